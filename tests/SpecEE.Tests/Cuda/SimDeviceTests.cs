using SpecEE.Core;
using SpecEE.Cuda.Device;
using SpecEE.Cuda.Kernels;

namespace SpecEE.Tests.Cuda;

/// <summary>
/// The CPU simulator behind the device seam. Ignored where libspecee_cudasim.so has not been built
/// (cmake -S . -B build/native &amp;&amp; cmake --build build/native, or $SPECEE_CUDASIM_LIB).
/// </summary>
public class SimDeviceTests : GpuDeviceContractTests
{
    protected override IGpuDevice OpenDevice()
    {
        if (!SimDevice.IsAvailable(out string why)) CudaTestSupport.Unavailable("SPECEE_REQUIRE_SIM", why);
        return SimDevice.Open(workerCount: 2);
    }

    [Test]
    public void Open_ReportsWorkersAsSmsAndAModernArch()
    {
        using IGpuDevice sim = OpenDevice();
        Assert.That(sim.Info.Arch, Is.GreaterThanOrEqualTo(80), "kernels may assume at least Ampere features");
        Assert.That(sim.Info.MultiprocessorCount, Is.EqualTo(2), "= worker threads asked for");
        Assert.That(sim.Info.MaxSharedBytesPerBlockOptIn, Is.GreaterThan(48 * 1024));
    }

    [Test]
    public void LoadPtx_IsRejectedWithReason()
    {
        using IGpuDevice sim = OpenDevice();
        var e = Assert.Throws<InvalidRequestException>(() => sim.LoadPtx(".version 7.0", "k.ptx"));
        Assert.That(e!.Message, Does.StartWith("k.ptx: PTX modules run only on a GPU"));
    }

    [Test]
    public void LoadCudaSource_WithDefines_IsRejectedNotIgnored()
    {
        using IGpuDevice sim = OpenDevice();
        Assert.Throws<InvalidRequestException>(() =>
            sim.LoadCudaSource(KernelSources.Read(SelfTestKernel.FileName), SelfTestKernel.FileName, ["TILE=64"]));
    }

    [Test]
    public void LoadCudaSource_UnknownFile_ThrowsNotFound()
    {
        using IGpuDevice sim = OpenDevice();
        var e = Assert.Throws<SpecEE.Cuda.CudaException>(() => sim.LoadCudaSource("", "NoSuchKernel.cu"));
        Assert.That(e!.Message, Does.StartWith("cudasim_module_load(\"NoSuchKernel.cu\") failed: CUDA_ERROR_NOT_FOUND"));
    }
}
