using System.Runtime.InteropServices;

namespace SpecEE.Cuda.Interop;

// Driver API, group: streams and events.
internal static unsafe partial class CuDriver
{
    [LibraryImport(NativeLibraries.Driver)]
    internal static partial CUresult cuStreamCreate(out CUstream stream, uint flags);

    [LibraryImport(NativeLibraries.Driver)]
    internal static partial CUresult cuStreamSynchronize(CUstream stream);

    [LibraryImport(NativeLibraries.Driver)]
    internal static partial CUresult cuStreamDestroy_v2(CUstream stream);

    [LibraryImport(NativeLibraries.Driver)]
    internal static partial CUresult cuEventCreate(out CUevent ev, uint flags);

    [LibraryImport(NativeLibraries.Driver)]
    internal static partial CUresult cuEventRecord(CUevent ev, CUstream stream);

    [LibraryImport(NativeLibraries.Driver)]
    internal static partial CUresult cuEventSynchronize(CUevent ev);

    /// <summary>Milliseconds between two recorded events (resolution about 0.5 µs).</summary>
    [LibraryImport(NativeLibraries.Driver)]
    internal static partial CUresult cuEventElapsedTime(out float milliseconds, CUevent start, CUevent end);

    [LibraryImport(NativeLibraries.Driver)]
    internal static partial CUresult cuEventDestroy_v2(CUevent ev);
}
