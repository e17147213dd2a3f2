using SpecEE.Cuda.Nvrtc;

namespace SpecEE.Tests.Cuda;

public class KernelCacheTests
{
    [Test]
    public void Compile_SecondCall_HitsMemoryWithoutRunningNvrtc()
    {
        NvrtcCompiler nvrtc = CudaTestSupport.RequireNvrtc();
        var options = new NvrtcOptions(80);

        CompiledKernel first = nvrtc.Compile(CudaTestSupport.SelfTestSource, "SelfTest.cu", options);
        CompiledKernel second = nvrtc.Compile(CudaTestSupport.SelfTestSource, "SelfTest.cu", options);

        Assert.That(first.Source, Is.EqualTo(KernelCacheSource.Compiled));
        Assert.That(second.Source, Is.EqualTo(KernelCacheSource.Memory));
        Assert.That(nvrtc.CompileCount, Is.EqualTo(1));
        Assert.That(second.Image.ToArray(), Is.EqualTo(first.Image.ToArray()));
    }

    [Test]
    public void Compile_FreshCacheOnSameDirectory_ReadsDiskWithoutRunningNvrtc()
    {
        // A new KernelCache + compiler starts with empty memory, exactly like a new process.
        string dir = TestPaths.FreshDirectory();
        NvrtcCompiler writer = CudaTestSupport.RequireNvrtc(dir);
        CompiledKernel compiled = writer.Compile(CudaTestSupport.SelfTestSource, "SelfTest.cu", new NvrtcOptions(90));

        var reader = new NvrtcCompiler(new KernelCache(dir));
        CompiledKernel fromDisk = reader.Compile(CudaTestSupport.SelfTestSource, "SelfTest.cu", new NvrtcOptions(90));

        Assert.That(fromDisk.Source, Is.EqualTo(KernelCacheSource.Disk));
        Assert.That(reader.CompileCount, Is.Zero);
        Assert.That(fromDisk.Image.ToArray(), Is.EqualTo(compiled.Image.ToArray()));
        Assert.That(Directory.GetFiles(dir).Select(Path.GetFileName), Has.All.Match(@"^[0-9a-f]{64}\.bin$"), "no temp files left");
    }

    [Test]
    public void Compile_DifferentArchOrDefine_IsADifferentEntry()
    {
        NvrtcCompiler nvrtc = CudaTestSupport.RequireNvrtc();
        const string tiny = "extern \"C\" __global__ void tiny(float* y) { y[0] = 2.0f; }";
        nvrtc.Compile(tiny, "tiny.cu", new NvrtcOptions(80));
        CompiledKernel other = nvrtc.Compile(tiny, "tiny.cu", new NvrtcOptions(86));
        CompiledKernel defined = nvrtc.Compile(tiny, "tiny.cu", new NvrtcOptions(80, Defines: ["X=1"]));
        Assert.That(other.Source, Is.EqualTo(KernelCacheSource.Compiled));
        Assert.That(defined.Source, Is.EqualTo(KernelCacheSource.Compiled));
        Assert.That(nvrtc.CompileCount, Is.EqualTo(3));
    }

    [Test]
    public void ComputeKey_DependsOnEveryField()
    {
        KeyValuePair<string, string>[] h = [new("a.cuh", "x")];
        string baseline = KernelCache.ComputeKey("src", h, ["-O3"], "sm_90", "12.4");
        Assert.That(baseline, Does.Match("^[0-9a-f]{64}$"));
        Assert.That(KernelCache.ComputeKey("src", h, ["-O3"], "sm_90", "12.4"), Is.EqualTo(baseline), "deterministic");
        string[] variants =
        [
            KernelCache.ComputeKey("src2", h, ["-O3"], "sm_90", "12.4"),
            KernelCache.ComputeKey("src", [new("a.cuh", "y")], ["-O3"], "sm_90", "12.4"),
            KernelCache.ComputeKey("src", h, ["-O2"], "sm_90", "12.4"),
            KernelCache.ComputeKey("src", h, ["-O3"], "sm_80", "12.4"),
            KernelCache.ComputeKey("src", h, ["-O3"], "sm_90", "12.5"),
            // Field boundaries matter: moving text from source into the options is a different input.
            KernelCache.ComputeKey("sr", h, ["c-O3"], "sm_90", "12.4"),
        ];
        Assert.That(variants, Has.None.EqualTo(baseline));
        Assert.That(variants.Distinct().Count(), Is.EqualTo(variants.Length));
    }

    [Test]
    public void DiskEntry_Corrupted_IsIgnored()
    {
        string dir = TestPaths.FreshDirectory();
        byte[] image = [1, 2, 3, 4, 5, 6, 7, 8];
        new KernelCache(dir).Put("k1", image);
        Assert.That(new KernelCache(dir).TryGet("k1", out var ok, out var source), Is.True);
        Assert.That(ok.ToArray(), Is.EqualTo(image));
        Assert.That(source, Is.EqualTo(KernelCacheSource.Disk));

        string path = Path.Combine(dir, "k1.bin");
        byte[] bytes = File.ReadAllBytes(path);
        bytes[^1] ^= 0xff;
        File.WriteAllBytes(path, bytes);
        Assert.That(new KernelCache(dir).TryGet("k1", out _, out _), Is.False, "payload no longer matches its SHA-256");

        File.WriteAllBytes(path, bytes[..10]);
        Assert.That(new KernelCache(dir).TryGet("k1", out _, out _), Is.False, "truncated");
    }

    [Test]
    public void Put_UnwritableDirectory_KeepsWorkingFromMemory()
    {
        string file = Path.Combine(TestPaths.FreshDirectory(), "not-a-directory");
        File.WriteAllText(file, "x");
        var cache = new KernelCache(file); // a file where the directory should be: every write fails

        cache.Put("k", new byte[] { 9 });

        Assert.That(cache.TryGet("k", out var image, out var source), Is.True);
        Assert.That(image.ToArray(), Is.EqualTo(new byte[] { 9 }));
        Assert.That(source, Is.EqualTo(KernelCacheSource.Memory));
        Assert.That(cache.LastDiskError, Does.Contain(file));
    }

    [Test]
    public void DefaultDirectory_FollowsOverrideThenXdgCacheHome()
    {
        if (OperatingSystem.IsWindows()) Assert.Ignore("XDG layout is for Unix");
        string? savedOverride = Environment.GetEnvironmentVariable(KernelCache.DirectoryVariable);
        string? savedXdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
        try
        {
            Environment.SetEnvironmentVariable(KernelCache.DirectoryVariable, null);
            Environment.SetEnvironmentVariable("XDG_CACHE_HOME", "/tmp/xdg-test");
            Assert.That(KernelCache.DefaultDirectory(), Is.EqualTo("/tmp/xdg-test/specee/kernels"));

            Environment.SetEnvironmentVariable("XDG_CACHE_HOME", null);
            string home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
            Assert.That(KernelCache.DefaultDirectory(), Is.EqualTo(Path.Combine(home, ".cache", "specee", "kernels")));

            Environment.SetEnvironmentVariable(KernelCache.DirectoryVariable, "/tmp/override");
            Assert.That(KernelCache.DefaultDirectory(), Is.EqualTo("/tmp/override"));
        }
        finally
        {
            Environment.SetEnvironmentVariable(KernelCache.DirectoryVariable, savedOverride);
            Environment.SetEnvironmentVariable("XDG_CACHE_HOME", savedXdg);
        }
    }
}
