using System.Runtime.InteropServices;

namespace SpecEE.Cuda.Interop;

// Driver API, group: initialisation, version, devices, primary contexts.
// Signatures follow cuda.h exactly; `out T` stands for `T*` output parameters.
internal static unsafe partial class CuDriver
{
    [LibraryImport(NativeLibraries.Driver)]
    internal static partial CUresult cuInit(uint flags);

    [LibraryImport(NativeLibraries.Driver)]
    internal static partial CUresult cuDriverGetVersion(out int driverVersion);

    [LibraryImport(NativeLibraries.Driver)]
    internal static partial CUresult cuDeviceGetCount(out int count);

    [LibraryImport(NativeLibraries.Driver)]
    internal static partial CUresult cuDeviceGet(out CUdevice device, int ordinal);

    [LibraryImport(NativeLibraries.Driver)]
    internal static partial CUresult cuDeviceGetName(byte* name, int len, CUdevice dev);

    [LibraryImport(NativeLibraries.Driver)]
    internal static partial CUresult cuDeviceGetAttribute(out int value, CUdevice_attribute attrib, CUdevice dev);

    [LibraryImport(NativeLibraries.Driver)]
    internal static partial CUresult cuDeviceTotalMem_v2(out nuint bytes, CUdevice dev);

    [LibraryImport(NativeLibraries.Driver)]
    internal static partial CUresult cuDevicePrimaryCtxRetain(out CUcontext ctx, CUdevice dev);

    // cuda.h maps cuDevicePrimaryCtxRelease to the _v2 symbol since CUDA 11.
    [LibraryImport(NativeLibraries.Driver)]
    internal static partial CUresult cuDevicePrimaryCtxRelease_v2(CUdevice dev);

    [LibraryImport(NativeLibraries.Driver)]
    internal static partial CUresult cuCtxSetCurrent(CUcontext ctx);

    [LibraryImport(NativeLibraries.Driver)]
    internal static partial CUresult cuCtxPushCurrent_v2(CUcontext ctx);

    [LibraryImport(NativeLibraries.Driver)]
    internal static partial CUresult cuCtxPopCurrent_v2(out CUcontext ctx);

    [LibraryImport(NativeLibraries.Driver)]
    internal static partial CUresult cuCtxSynchronize();
}
