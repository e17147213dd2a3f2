using SpecEE.Cuda;
using SpecEE.Cuda.Device;
using SpecEE.Cuda.Kernels;

namespace SpecEE.Tests.Cuda;

/// <summary>
/// What every <see cref="IGpuDevice"/> must do, run once per implementation (the derived fixtures open the
/// device, or ignore the fixture's tests when that device is absent here).
/// </summary>
public abstract class GpuDeviceContractTests
{
    /// <summary>The device under test; calls Assert.Ignore when it is not available.</summary>
    protected abstract IGpuDevice OpenDevice();

    [Test]
    public void CopyRoundTrip_SyncAndAsyncPinned_PreservesValues()
    {
        using IGpuDevice device = OpenDevice();
        const int n = 4099; // odd: no alignment luck
        float[] data = Enumerable.Range(0, n).Select(i => i * 0.25f - 7f).ToArray();
        using GpuBuffer a = device.Allocate(n * sizeof(float));
        using GpuBuffer b = device.Allocate(n * sizeof(float));
        using GpuStream stream = device.CreateStream();
        using PinnedBuffer pinned = device.AllocatePinned(n * sizeof(float));

        device.CopyToDevice(a.Ptr, data.AsSpan());
        device.CopyToHost(pinned.AsSpan<float>(), a.Ptr);
        device.CopyToDeviceAsync(b.Ptr, pinned, 0, n * sizeof(float), stream);
        device.Synchronize(stream); // the H→D copy reads pinned memory until it completes
        pinned.AsSpan<float>().Fill(float.NaN);
        device.CopyToHostAsync(pinned, 0, b.Ptr, n * sizeof(float), stream);
        device.Synchronize(stream);

        Assert.That(pinned.AsSpan<float>().ToArray(), Is.EqualTo(data));
    }

    [Test]
    public void CopyDeviceToDevice_CopiesTheRangeOnly()
    {
        using IGpuDevice device = OpenDevice();
        int[] data = Enumerable.Range(1, 64).ToArray();
        using GpuBuffer src = device.Allocate(64 * 4), dst = device.Allocate(64 * 4);
        using GpuStream stream = device.CreateStream();
        device.CopyToDevice(src.Ptr, data.AsSpan());
        device.Memset8(dst.Ptr, 0, 64 * 4);
        device.CopyDeviceToDeviceAsync(dst.At(8 * 4), src.At(16 * 4, 10 * 4), 10 * 4, stream);
        device.Synchronize(stream);
        var host = new int[64];
        device.CopyToHost(host.AsSpan(), dst.Ptr);
        int[] expected = new int[64];
        Array.Copy(data, 16, expected, 8, 10);
        Assert.That(host, Is.EqualTo(expected));
    }

    [Test]
    public void Memset_FillsBytesAndWords()
    {
        using IGpuDevice device = OpenDevice();
        using GpuBuffer buf = device.Allocate(64);
        using GpuStream stream = device.CreateStream();
        device.Memset8(buf.Ptr, 0xAB, 64);
        device.Memset32Async(buf.At(16, 32), 0x3F800000u, 8, stream); // 1.0f
        device.Synchronize(stream);
        var host = new byte[64];
        device.CopyToHost(host.AsSpan(), buf.Ptr);
        Assert.That(host[..16], Has.All.EqualTo((byte)0xAB));
        Assert.That(host[48..], Has.All.EqualTo((byte)0xAB));
        float[] words = new float[8];
        Buffer.BlockCopy(host, 16, words, 0, 32);
        Assert.That(words, Has.All.EqualTo(1.0f));
    }

    [Test]
    public void SelfTest_F16_MatchesCpuReference()
    {
        using IGpuDevice device = OpenDevice();
        using var kernel = new SelfTestKernel(device);
        SelfTestRun.RunAndCompare(device, kernel, n: 32 * 37, useGraph: false);
    }

    [Test]
    public void SelfTest_F16_CapturedGraphReplaysToCpuReference()
    {
        using IGpuDevice device = OpenDevice();
        using var kernel = new SelfTestKernel(device);
        SelfTestRun.RunAndCompare(device, kernel, n: 32 * 5, useGraph: true);
    }

    [Test]
    public void SelfTest_LauncherRejectsPartialWarp()
    {
        using IGpuDevice device = OpenDevice();
        using var kernel = new SelfTestKernel(device);
        using GpuBuffer any = device.Allocate(4096);
        using GpuStream stream = device.CreateStream();
        Assert.Throws<ArgumentOutOfRangeException>(() => kernel.Launch(any, any, any, any, any, any, 33, stream));
    }

    [Test]
    public void GetFunction_Missing_ThrowsCudaExceptionNamingKernel()
    {
        using IGpuDevice device = OpenDevice();
        using GpuModule module = device.LoadCudaSource(KernelSources.Read(SelfTestKernel.FileName), SelfTestKernel.FileName);
        var e = Assert.Throws<CudaException>(() => device.GetFunction(module, "no_such_kernel"));
        Assert.That(e!.Message, Does.Contain("\"no_such_kernel\"").And.Contain("CUDA_ERROR_NOT_FOUND"));
    }

    [Test]
    public void DisposedBuffer_PointerIsNoLongerHandedOut()
    {
        using IGpuDevice device = OpenDevice();
        GpuBuffer buf = device.Allocate(256);
        buf.Dispose();
        Assert.That(buf.IsDisposed, Is.True);
        Assert.Throws<ObjectDisposedException>(() => _ = buf.Ptr);
    }

    [Test]
    public void BuffersOutliveDevice_ReleasedAfterwardsWithoutError()
    {
        // Objects hold the context: disposing the device first must not free memory under a live buffer.
        IGpuDevice device = OpenDevice();
        GpuBuffer buf = device.Allocate(1024);
        GpuStream stream = device.CreateStream();
        device.Dispose();

        Assert.Throws<ObjectDisposedException>(() => device.Allocate(16), "the device itself is gone");
        Assert.That(buf.IsDisposed, Is.False);
        Assert.DoesNotThrow(() => _ = buf.Ptr, "a live buffer keeps the context (and its memory) alive");
        stream.Dispose();
        buf.Dispose(); // the last reference: frees the memory, then the context
        Assert.That(buf.IsDisposed && stream.IsDisposed, Is.True);
    }
}
