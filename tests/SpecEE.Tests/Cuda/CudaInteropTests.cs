using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using SpecEE.Core;
using SpecEE.Cuda;
using SpecEE.Cuda.Device;
using SpecEE.Cuda.Interop;

namespace SpecEE.Tests.Cuda;

/// <summary>Interop declarations and error reporting; none of these needs a GPU or NVRTC.</summary>
public class CudaInteropTests
{
    private static void AssertBlittable<T>(int nativeSize) where T : unmanaged
    {
        Assert.That(RuntimeHelpers.IsReferenceOrContainsReferences<T>(), Is.False, typeof(T).Name);
        Assert.That(Unsafe.SizeOf<T>(), Is.EqualTo(nativeSize), typeof(T).Name + " managed size");
        Assert.That(Marshal.SizeOf<T>(), Is.EqualTo(nativeSize), typeof(T).Name + " marshalled size");
    }

    [Test]
    public void HandleStructs_HaveNativeSizes()
    {
        // cuda.h on a 64-bit host: CUdevice is int, CUdeviceptr is unsigned long long, the rest are pointers.
        AssertBlittable<CUdevice>(4);
        AssertBlittable<CUdeviceptr>(8);
        AssertBlittable<CUcontext>(8);
        AssertBlittable<CUmodule>(8);
        AssertBlittable<CUfunction>(8);
        AssertBlittable<CUstream>(8);
        AssertBlittable<CUevent>(8);
        AssertBlittable<CUgraph>(8);
        AssertBlittable<CUgraphExec>(8);
        AssertBlittable<NvrtcProgram>(8);
        Assert.That(Unsafe.SizeOf<CUresult>(), Is.EqualTo(4), "C enums are int");
        Assert.That(Unsafe.SizeOf<NvrtcResult>(), Is.EqualTo(4));
        Assert.That(Unsafe.SizeOf<CUjit_option>(), Is.EqualTo(4));
    }

    [Test]
    public void DevicePointer_OffsetAddsBytes()
    {
        var p = new CUdeviceptr(0x7f00_0000_0100);
        Assert.That((p + 0x40).Value, Is.EqualTo(0x7f00_0000_0140UL));
        Assert.That(p.ToString(), Is.EqualTo("0x7f0000000100"));
    }

    private static CUresult FakeDriverCall(CUresult result) => result;
    private static NvrtcResult FakeNvrtcCall(NvrtcResult result) => result;

    [Test]
    public void DriverCheck_Failure_NamesErrorAndCallText()
    {
        var e = Assert.Throws<CudaException>(() => CuDriver.Check(FakeDriverCall(CUresult.CUDA_ERROR_OUT_OF_MEMORY)));

        Assert.That(e!.Message, Does.StartWith("FakeDriverCall(CUresult.CUDA_ERROR_OUT_OF_MEMORY) failed: CUDA_ERROR_OUT_OF_MEMORY"));
        Assert.That(e.ErrorName, Is.EqualTo("CUDA_ERROR_OUT_OF_MEMORY"));
        Assert.That(e.Code, Is.EqualTo(2));
        Assert.That(e.Call, Is.EqualTo("FakeDriverCall(CUresult.CUDA_ERROR_OUT_OF_MEMORY)"));
        Assert.That(e.CompilerLog, Is.Null);
        Assert.That(e, Is.InstanceOf<SpecEEException>(), "the CLI prints it as a user-facing error");
    }

    [Test]
    public void DriverCheck_UnknownCode_ShowsTheNumber()
    {
        var e = Assert.Throws<CudaException>(() => CuDriver.Check(FakeDriverCall((CUresult)123456)));
        Assert.That(e!.Message, Does.Contain("failed: CUresult 123456"));
    }

    [Test]
    public void DriverCheck_MultiLineCall_IsOneLine()
    {
        var e = Assert.Throws<CudaException>(() => CuDriver.Check(
            FakeDriverCall(
                CUresult.CUDA_ERROR_INVALID_VALUE)));
        Assert.That(e!.Call, Is.EqualTo("FakeDriverCall( CUresult.CUDA_ERROR_INVALID_VALUE)"));
    }

    [Test]
    public void DriverCheckJit_Failure_AppendsLog()
    {
        var e = Assert.Throws<CudaException>(() =>
            CuDriver.CheckJit(FakeDriverCall(CUresult.CUDA_ERROR_INVALID_PTX), "ptxas fatal   : Unresolved extern function 'f'"));
        Assert.That(e!.Message, Does.StartWith("FakeDriverCall(CUresult.CUDA_ERROR_INVALID_PTX) failed: CUDA_ERROR_INVALID_PTX"));
        Assert.That(e.Message.Split(Environment.NewLine)[^1], Is.EqualTo("ptxas fatal   : Unresolved extern function 'f'"));
        Assert.That(e.CompilerLog, Does.Contain("Unresolved extern"));
    }

    [Test]
    public void DriverCheck_Success_DoesNotThrow()
    {
        Assert.DoesNotThrow(() => CuDriver.Check(FakeDriverCall(CUresult.CUDA_SUCCESS)));
        Assert.DoesNotThrow(() => NvrtcApi.Check(FakeNvrtcCall(NvrtcResult.NVRTC_SUCCESS)));
    }

    [Test]
    public void NvrtcCheck_Failure_NamesErrorAndCallText()
    {
        // nvrtcGetErrorString (when NVRTC is loaded) and the fallback both give the enumerator's name.
        var e = Assert.Throws<CudaException>(() => NvrtcApi.Check(FakeNvrtcCall(NvrtcResult.NVRTC_ERROR_INVALID_OPTION)));
        Assert.That(e!.Message, Is.EqualTo("FakeNvrtcCall(NvrtcResult.NVRTC_ERROR_INVALID_OPTION) failed: NVRTC_ERROR_INVALID_OPTION"));
    }

    [Test]
    public void Open_WithoutDriver_ThrowsNoCudaDeviceAndNothingElse()
    {
        if (NativeLibraries.TryLoadDriver(out _)) Assert.Ignore("libcuda is present here; the no-driver path cannot be exercised");

        // Assert.Throws demands the exact type: a SpecEEException, not a DllNotFound or a CudaException.
        var e = Assert.Throws<SpecEEException>(() => CudaDriverDevice.Open());

        Assert.That(e!.Message, Does.StartWith("no CUDA device: libcuda could not be loaded"));
        Assert.That(e.Message, Does.Contain(OperatingSystem.IsWindows() ? "nvcuda.dll" : "libcuda.so.1"));
        Assert.That(e.InnerException, Is.Null);
    }

    [Test]
    public void Dim3_DefaultsUnusedDimensionsToOne()
    {
        Dim3 d = 128;
        Assert.That(d, Is.EqualTo(new Dim3(128, 1, 1)));
    }
}
