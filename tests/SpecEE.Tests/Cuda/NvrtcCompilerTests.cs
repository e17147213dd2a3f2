using System.Buffers.Binary;
using System.Text;
using SpecEE.Core;
using SpecEE.Cuda;
using SpecEE.Cuda.Nvrtc;

namespace SpecEE.Tests.Cuda;

/// <summary>NVRTC compiles our kernels with the in-memory prelude and no toolkit headers. Ignored without libnvrtc.</summary>
public class NvrtcCompilerTests
{
    private const ushort EM_CUDA = 190; // ELF e_machine of CUBINs

    [TestCase(80)]
    [TestCase(90)]
    public void Compile_SelfTestKernel_GivesCubinForArchWithEmptyLog(int arch)
    {
        NvrtcCompiler nvrtc = CudaTestSupport.RequireNvrtc();

        CompiledKernel k = nvrtc.Compile(CudaTestSupport.SelfTestSource, "SelfTest.cu", new NvrtcOptions(arch));

        Assert.That(k.Log, Is.Empty, "no errors and no warnings");
        Assert.That(k.Source, Is.EqualTo(KernelCacheSource.Compiled));
        ReadOnlySpan<byte> elf = k.Image.Span;
        Assert.That(elf[..4].ToArray(), Is.EqualTo("\u007fELF"u8.ToArray()), "CUBIN is an ELF file");
        Assert.That(elf[4], Is.EqualTo(2), "ELFCLASS64");
        Assert.That(BinaryPrimitives.ReadUInt16LittleEndian(elf[18..]), Is.EqualTo(EM_CUDA), "e_machine");
        // ELF ABI version 7 (CUDA ≤ 12) keeps the SM number in the low byte of e_flags (0x5a = sm_90).
        if (elf[8] == 7)
            Assert.That(BinaryPrimitives.ReadUInt32LittleEndian(elf[48..]) & 0xff, Is.EqualTo((uint)arch), "e_flags SM");
        Assert.That(elf.IndexOf("selftest_f16"u8), Is.GreaterThan(0), "the extern \"C\" symbol is in the image");
    }

    [Test]
    public void Compile_Compute90Ptx_TargetsSm90AndUsesPreludeConversions()
    {
        NvrtcCompiler nvrtc = CudaTestSupport.RequireNvrtc();

        CompiledKernel k = nvrtc.Compile(CudaTestSupport.SelfTestSource, "SelfTest.cu", new NvrtcOptions(90, NvrtcTarget.Ptx));

        Assert.That(k.Log, Is.Empty);
        Assert.That(k.Image.Span[^1], Is.EqualTo(0), "PTX is NUL-terminated for cuModuleLoadDataEx");
        string ptx = k.PtxText;
        Assert.That(ptx, Does.Contain(".target sm_90"));
        Assert.That(ptx, Does.Contain(".entry selftest_f16("));
        Assert.That(ptx, Does.Contain("cvt.rn.f16.f32"), "float→half goes through the prelude's inline PTX");
        Assert.That(ptx, Does.Contain("cvt.f32.f16"), "half→float likewise");
        Assert.That(ptx, Does.Contain("shfl.sync.bfly"), "__shfl_xor_sync lowers to a butterfly shuffle");
        Assert.That(ptx, Does.Contain("ld.global.nc.v4.f32").Or.Contain("ld.global.v4.f32"), "float4 is one 128-bit load");
    }

    [Test]
    public void Compile_SyntaxError_ThrowsCudaExceptionWithNvrtcLogLine()
    {
        NvrtcCompiler nvrtc = CudaTestSupport.RequireNvrtc();
        const string broken = "#include \"specee_prelude.cuh\"\nextern \"C\" __global__ void broken(float* y)\n{\n    y[0] = 1.0f +;\n}\n";

        var e = Assert.Throws<CudaException>(() => nvrtc.Compile(broken, "broken.cu", new NvrtcOptions(80)));

        Assert.That(e!.ErrorName, Is.EqualTo("NVRTC_ERROR_COMPILATION"));
        Assert.That(e.CompilerLog, Does.Contain("broken.cu(4): error"), "NVRTC's log names the file and line");
        string firstLogLine = e.CompilerLog!.Split('\n')[0].Trim();
        Assert.That(e.Message, Does.StartWith("nvrtcCompileProgram(broken.cu, --gpu-architecture=sm_80"));
        Assert.That(e.Message, Does.Contain("failed: NVRTC_ERROR_COMPILATION"));
        Assert.That(e.Message, Does.Contain(firstLogLine));
        Assert.That(e, Is.InstanceOf<SpecEEException>());
    }

    [Test]
    public void Compile_UnusedVariable_WarningReachesLog()
    {
        // The "empty log" assertions above are only meaningful if warnings do reach the log.
        NvrtcCompiler nvrtc = CudaTestSupport.RequireNvrtc();
        const string warns = "extern \"C\" __global__ void warns(float* y)\n{\n    int unused = 3;\n    y[0] = 1.0f;\n}\n";

        CompiledKernel k = nvrtc.Compile(warns, "warns.cu", new NvrtcOptions(80));

        Assert.That(k.Log, Does.Contain("warns.cu(3)").And.Contain("unused"));
    }

    [Test]
    public void Compile_ArchNvrtcCannotTarget_ThrowsInvalidRequest()
    {
        NvrtcCompiler nvrtc = CudaTestSupport.RequireNvrtc();
        if (nvrtc.SupportedArchs.Count == 0) Assert.Ignore("this NVRTC predates nvrtcGetSupportedArchs");

        var e = Assert.Throws<InvalidRequestException>(() => nvrtc.Compile("", "empty.cu", new NvrtcOptions(12)));

        Assert.That(e!.Message, Does.Contain("sm_12").And.Contain("sm_" + nvrtc.SupportedArchs[^1]));
    }

    [Test]
    public void BuildOptions_DefaultsAreArchDefaultDeviceCxx17WithoutFastMath()
    {
        Assert.That(NvrtcCompiler.BuildOptions(new NvrtcOptions(90)),
            Is.EqualTo(new[] { "--gpu-architecture=sm_90", "-default-device", "-std=c++17" }));
        Assert.That(NvrtcCompiler.BuildOptions(new NvrtcOptions(80, NvrtcTarget.Ptx, FastMath: true, Defines: ["TILE=64"])),
            Is.EqualTo(new[] { "--gpu-architecture=compute_80", "-default-device", "-std=c++17", "--use_fast_math", "-DTILE=64" }));
    }

    [Test]
    public void Version_IsAtLeast11_2AndListsSupportedArchs()
    {
        NvrtcCompiler nvrtc = CudaTestSupport.RequireNvrtc();
        TestContext.Out.WriteLine($"{nvrtc.LibraryName}: NVRTC {nvrtc.Version}, archs {string.Join(' ', nvrtc.SupportedArchs)}");
        Assert.That(nvrtc.Version, Is.GreaterThanOrEqualTo(new Version(11, 2)));
        Assert.That(nvrtc.SupportedArchs, Does.Contain(80));
    }
}
