using System.Runtime.InteropServices;

namespace SpecEE.Cuda.Interop;

// Driver API, group: device and pinned host memory, copies, memsets.
internal static unsafe partial class CuDriver
{
    [LibraryImport(NativeLibraries.Driver)]
    internal static partial CUresult cuMemAlloc_v2(out CUdeviceptr dptr, nuint bytesize);

    [LibraryImport(NativeLibraries.Driver)]
    internal static partial CUresult cuMemFree_v2(CUdeviceptr dptr);

    /// <summary>Page-locked host memory, required for truly asynchronous H↔D copies.</summary>
    [LibraryImport(NativeLibraries.Driver)]
    internal static partial CUresult cuMemAllocHost_v2(out nint hostPtr, nuint bytesize);

    [LibraryImport(NativeLibraries.Driver)]
    internal static partial CUresult cuMemFreeHost(nint hostPtr);

    [LibraryImport(NativeLibraries.Driver)]
    internal static partial CUresult cuMemcpyHtoD_v2(CUdeviceptr dst, void* src, nuint byteCount);

    [LibraryImport(NativeLibraries.Driver)]
    internal static partial CUresult cuMemcpyDtoH_v2(void* dst, CUdeviceptr src, nuint byteCount);

    [LibraryImport(NativeLibraries.Driver)]
    internal static partial CUresult cuMemcpyHtoDAsync_v2(CUdeviceptr dst, void* src, nuint byteCount, CUstream stream);

    [LibraryImport(NativeLibraries.Driver)]
    internal static partial CUresult cuMemcpyDtoHAsync_v2(void* dst, CUdeviceptr src, nuint byteCount, CUstream stream);

    [LibraryImport(NativeLibraries.Driver)]
    internal static partial CUresult cuMemcpyDtoDAsync_v2(CUdeviceptr dst, CUdeviceptr src, nuint byteCount, CUstream stream);

    /// <summary>Sets <paramref name="count"/> bytes.</summary>
    [LibraryImport(NativeLibraries.Driver)]
    internal static partial CUresult cuMemsetD8_v2(CUdeviceptr dst, byte value, nuint count);

    /// <summary>Sets <paramref name="count"/> 32-bit words; <paramref name="dst"/> must be 4-byte aligned.</summary>
    [LibraryImport(NativeLibraries.Driver)]
    internal static partial CUresult cuMemsetD32Async(CUdeviceptr dst, uint value, nuint count, CUstream stream);
}
