using SpecEE.Cuda;
using SpecEE.Cuda.Device;
using SpecEE.Cuda.Interop;
using SpecEE.Cuda.Nvrtc;

namespace SpecEE.Tests.Cuda;

/// <summary>The driver-API device on a real GPU. Every test is ignored where no GPU (or no NVRTC) is present.</summary>
public class CudaDriverDeviceTests
{
    [Test]
    public void Open_ReportsComputeCapabilityAndMemory()
    {
        using CudaDriverDevice gpu = CudaTestSupport.RequireGpu();
        TestContext.Out.WriteLine(gpu.ToString());
        Assert.That(gpu.Info.ComputeMajor, Is.GreaterThanOrEqualTo(5));
        Assert.That(gpu.Info.MultiprocessorCount, Is.Positive);
        Assert.That(gpu.Info.TotalMemoryBytes, Is.GreaterThan(1L << 30));
        Assert.That(gpu.Info.DriverVersion, Is.GreaterThanOrEqualTo(11020));
    }

    [Test]
    public void CopyRoundTrip_SyncAndAsyncPinned_PreservesBytes()
    {
        using CudaDriverDevice gpu = CudaTestSupport.RequireGpu();
        const int n = 4099; // odd: no alignment luck
        float[] data = Enumerable.Range(0, n).Select(i => i * 0.25f - 7f).ToArray();
        using GpuBuffer a = gpu.Allocate(n * sizeof(float));
        using GpuBuffer b = gpu.Allocate(n * sizeof(float));
        using GpuStream stream = gpu.CreateStream();
        using PinnedBuffer pinned = gpu.AllocatePinned(n * sizeof(float));

        gpu.CopyToDevice(a.Ptr, data.AsSpan());
        gpu.CopyToHost(pinned.AsSpan<float>(), a.Ptr);
        gpu.CopyToDeviceAsync(b.Ptr, pinned, 0, n * sizeof(float), stream);
        gpu.Synchronize(stream); // the H→D copy reads pinned memory until it completes
        pinned.AsSpan<float>().Fill(float.NaN);
        gpu.CopyToHostAsync(pinned, 0, b.Ptr, n * sizeof(float), stream);
        gpu.Synchronize(stream);

        Assert.That(pinned.AsSpan<float>().ToArray(), Is.EqualTo(data));
    }

    [Test]
    public void Memset_FillsBytesAndWords()
    {
        using CudaDriverDevice gpu = CudaTestSupport.RequireGpu();
        using GpuBuffer buf = gpu.Allocate(64);
        using GpuStream stream = gpu.CreateStream();
        gpu.Memset8(buf.Ptr, 0xAB, 64);
        gpu.Memset32Async(buf.At(16, 32), 0x3F800000u, 8, stream); // 1.0f
        gpu.Synchronize(stream);
        var host = new byte[64];
        gpu.CopyToHost(host.AsSpan(), buf.Ptr);
        Assert.That(host[..16], Has.All.EqualTo((byte)0xAB));
        Assert.That(host[48..], Has.All.EqualTo((byte)0xAB));
        float[] words = new float[8];
        Buffer.BlockCopy(host, 16, words, 0, 32);
        Assert.That(words, Has.All.EqualTo(1.0f));
    }

    [Test]
    public unsafe void SampleKernel_FromSource_MatchesCpuReference()
    {
        using CudaDriverDevice gpu = CudaTestSupport.RequireGpu();
        if (!NvrtcCompiler.IsAvailable(out string why)) Assert.Ignore(why);
        using GpuModule module = gpu.LoadCudaSource(CudaTestSupport.SampleSource, "sample.cu");
        RunSampleAndCompare(gpu, gpu.GetFunction(module, "sample_f16"), graph: false);
    }

    [Test]
    public void SampleKernel_FromPtxInGraph_MatchesCpuReference()
    {
        using CudaDriverDevice gpu = CudaTestSupport.RequireGpu();
        NvrtcCompiler nvrtc = CudaTestSupport.RequireNvrtc();
        int arch = nvrtc.SupportedArchs.Where(a => a <= gpu.Info.Arch).DefaultIfEmpty(gpu.Info.Arch).Max();
        string ptx = nvrtc.Compile(CudaTestSupport.SampleSource, "sample.cu", new NvrtcOptions(arch, NvrtcTarget.Ptx)).PtxText;
        using GpuModule module = gpu.LoadPtx(ptx, "sample.ptx");
        RunSampleAndCompare(gpu, gpu.GetFunction(module, "sample_f16"), graph: true);
    }

    [Test]
    public void LoadPtx_Invalid_ThrowsWithJitLog()
    {
        using CudaDriverDevice gpu = CudaTestSupport.RequireGpu();
        const string bad = ".version 7.0\n.target sm_80\n.address_size 64\n.visible .entry k() { bogus.instruction; ret; }\n";
        var e = Assert.Throws<CudaException>(() => gpu.LoadPtx(bad, "bad.ptx"));
        Assert.That(e!.Message, Does.StartWith("cuModuleLoadDataEx(bad.ptx) failed: CUDA_ERROR_INVALID_PTX"));
        Assert.That(e.CompilerLog, Does.Contain("bogus").Or.Contain("error"));
    }

    [Test]
    public void GetFunction_Missing_NamesKernel()
    {
        using CudaDriverDevice gpu = CudaTestSupport.RequireGpu();
        if (!NvrtcCompiler.IsAvailable(out string why)) Assert.Ignore(why);
        using GpuModule module = gpu.LoadCudaSource(CudaTestSupport.SampleSource, "sample.cu");
        var e = Assert.Throws<CudaException>(() => gpu.GetFunction(module, "no_such_kernel"));
        Assert.That(e!.Message, Does.Contain("no_such_kernel").And.Contain("CUDA_ERROR_NOT_FOUND"));
    }

    private static unsafe void RunSampleAndCompare(CudaDriverDevice gpu, GpuFunction fn, bool graph)
    {
        const int n = 32 * 37, warps = n / 32;
        var rng = new Random(1234);
        float[] x = Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 20 - 10)).ToArray();
        float[] v = Enumerable.Range(0, 4 * n).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        int[] k = Enumerable.Range(0, 4 * n).Select(_ => rng.Next(-100, 100)).ToArray();

        // Reference: System.Half rounds to nearest even, like cvt.rn.f16.f32.
        var refRounded = x.Select(f => (Half)f).ToArray();
        var refOut = new double[warps];
        for (int i = 0; i < n; i++)
            refOut[i / 32] += (float)refRounded[i] + v[4 * i] + v[4 * i + 1] + v[4 * i + 2] + v[4 * i + 3] + (k[4 * i] - k[4 * i + 3]);

        using GpuBuffer dOut = gpu.Allocate(warps * 4), dRounded = gpu.Allocate(n * 2), dPair = gpu.Allocate(warps * 4);
        using GpuBuffer dX = gpu.Allocate(n * 4), dV = gpu.Allocate(n * 16), dK = gpu.Allocate(n * 16);
        gpu.CopyToDevice(dX.Ptr, x.AsSpan());
        gpu.CopyToDevice(dV.Ptr, v.AsSpan());
        gpu.CopyToDevice(dK.Ptr, k.AsSpan());
        gpu.Memset8(dOut.Ptr, 0xFF, warps * 4); // NaN: an unwritten output fails

        using GpuStream stream = gpu.CreateStream();
        ulong pOut = dOut.Ptr.Value, pRounded = dRounded.Ptr.Value, pPair = dPair.Ptr.Value;
        ulong pX = dX.Ptr.Value, pV = dV.Ptr.Value, pK = dK.Ptr.Value;
        int count = n;
        nint* args = stackalloc nint[] { (nint)(&pOut), (nint)(&pRounded), (nint)(&pPair), (nint)(&pX), (nint)(&pV), (nint)(&pK), (nint)(&count) };
        var argSpan = new ReadOnlySpan<nint>(args, 7);
        using GpuEvent start = gpu.CreateEvent(), stop = gpu.CreateEvent();
        gpu.Record(start, stream);
        if (graph)
        {
            gpu.BeginCapture(stream);
            gpu.Launch(fn, (n + 127) / 128, 128, 0, stream, argSpan);
            using GpuGraph g = gpu.EndCapture(stream);
            gpu.Launch(g, stream);
            gpu.Launch(g, stream); // replay twice: idempotent kernel, same result
            gpu.Record(stop, stream);
            gpu.Synchronize(stop);
        }
        else
        {
            gpu.Launch(fn, (n + 127) / 128, 128, 0, stream, argSpan);
            gpu.Record(stop, stream);
            gpu.Synchronize(stop);
        }
        Assert.That(gpu.ElapsedMilliseconds(start, stop), Is.GreaterThanOrEqualTo(0f));

        var outHost = new float[warps];
        var roundedHost = new Half[n];
        var pairHost = new Half[2 * warps];
        gpu.CopyToHost(outHost.AsSpan(), dOut.Ptr);
        gpu.CopyToHost(roundedHost.AsSpan(), dRounded.Ptr);
        gpu.CopyToHost(pairHost.AsSpan(), dPair.Ptr);

        Assert.That(roundedHost, Is.EqualTo(refRounded), "float→half rounding matches System.Half bit for bit");
        for (int w = 0; w < warps; w++)
        {
            Assert.That(outHost[w], Is.EqualTo(refOut[w]).Within(1e-4 + 1e-5 * Math.Abs(refOut[w])), $"warp {w}");
            Assert.That(pairHost[2 * w], Is.EqualTo((Half)outHost[w]), $"pair.x of warp {w}");
            Assert.That(pairHost[2 * w + 1], Is.EqualTo((Half)(-outHost[w])), $"pair.y of warp {w}");
        }
    }
}
