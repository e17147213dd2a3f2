using SpecEE.Cuda;
using SpecEE.Cuda.Device;
using SpecEE.Cuda.Kernels;
using SpecEE.Cuda.Nvrtc;

namespace SpecEE.Tests.Cuda;

/// <summary>The driver-API device on a real GPU; every test is ignored where there is no GPU or no NVRTC.</summary>
public class CudaDriverDeviceTests : GpuDeviceContractTests
{
    protected override IGpuDevice OpenDevice()
    {
        CudaDriverDevice gpu = CudaTestSupport.RequireGpu();
        if (!NvrtcCompiler.IsAvailable(out string why))
        {
            gpu.Dispose();
            Assert.Ignore("GPU present but " + why);
        }
        return gpu;
    }

    [Test]
    public void Open_ReportsComputeCapabilityAndMemory()
    {
        using IGpuDevice gpu = OpenDevice();
        TestContext.Out.WriteLine(gpu.ToString());
        Assert.That(gpu.Info.ComputeMajor, Is.GreaterThanOrEqualTo(5));
        Assert.That(gpu.Info.MultiprocessorCount, Is.Positive);
        Assert.That(gpu.Info.TotalMemoryBytes, Is.GreaterThan(1L << 30));
        Assert.That(gpu.Info.DriverVersion, Is.GreaterThanOrEqualTo(11020));
    }

    [Test]
    public void SelfTest_FromNvrtcPtx_JitCompilesAndRuns()
    {
        using IGpuDevice gpu = OpenDevice();
        NvrtcCompiler nvrtc = CudaTestSupport.RequireNvrtc();
        int arch = nvrtc.SupportedArchs.Where(a => a <= gpu.Info.Arch).DefaultIfEmpty(gpu.Info.Arch).Max();
        string ptx = nvrtc.Compile(KernelSources.Read(SelfTestKernel.FileName), SelfTestKernel.FileName,
            new NvrtcOptions(arch, NvrtcTarget.Ptx)).PtxText;
        using GpuModule module = gpu.LoadPtx(ptx, "SelfTest.ptx");
        Assert.That(gpu.GetFunction(module, "selftest_f16").Name, Is.EqualTo("selftest_f16"));
    }

    [Test]
    public void LoadPtx_Invalid_ThrowsWithJitLog()
    {
        using IGpuDevice gpu = OpenDevice();
        const string bad = ".version 7.0\n.target sm_80\n.address_size 64\n.visible .entry k() { bogus.instruction; ret; }\n";
        var e = Assert.Throws<CudaException>(() => gpu.LoadPtx(bad, "bad.ptx"));
        Assert.That(e!.Message, Does.StartWith("cuModuleLoadDataEx(bad.ptx) failed: CUDA_ERROR_INVALID_PTX"));
        Assert.That(e.CompilerLog, Is.Not.Null.And.Not.Empty);
    }
}
