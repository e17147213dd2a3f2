using System.Runtime.InteropServices;

namespace SpecEE.Cuda.Interop;

// Driver API, group: stream capture and CUDA graphs.
internal static unsafe partial class CuDriver
{
    [LibraryImport(NativeLibraries.Driver)]
    internal static partial CUresult cuStreamBeginCapture_v2(CUstream stream, CUstreamCaptureMode mode);

    [LibraryImport(NativeLibraries.Driver)]
    internal static partial CUresult cuStreamEndCapture(CUstream stream, out CUgraph graph);

    [LibraryImport(NativeLibraries.Driver)]
    internal static partial CUresult cuGraphInstantiateWithFlags(out CUgraphExec exec, CUgraph graph, ulong flags);

    [LibraryImport(NativeLibraries.Driver)]
    internal static partial CUresult cuGraphLaunch(CUgraphExec exec, CUstream stream);

    [LibraryImport(NativeLibraries.Driver)]
    internal static partial CUresult cuGraphExecDestroy(CUgraphExec exec);

    [LibraryImport(NativeLibraries.Driver)]
    internal static partial CUresult cuGraphDestroy(CUgraph graph);
}
