using System.Runtime.InteropServices;

namespace SpecEE.Cuda.Interop;

// Driver API, group: modules, functions, launches.
internal static unsafe partial class CuDriver
{
    /// <summary>
    /// Loads a CUBIN or NUL-terminated PTX image. <paramref name="options"/>[i] pairs with
    /// <paramref name="optionValues"/>[i]; log-size options are in/out (capacity in, bytes written out).
    /// </summary>
    [LibraryImport(NativeLibraries.Driver)]
    internal static partial CUresult cuModuleLoadDataEx(out CUmodule module, void* image, uint numOptions,
        CUjit_option* options, void** optionValues);

    [LibraryImport(NativeLibraries.Driver, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial CUresult cuModuleGetFunction(out CUfunction function, CUmodule module, string name);

    [LibraryImport(NativeLibraries.Driver)]
    internal static partial CUresult cuModuleUnload(CUmodule module);

    [LibraryImport(NativeLibraries.Driver)]
    internal static partial CUresult cuFuncSetAttribute(CUfunction function, CUfunction_attribute attrib, int value);

    /// <summary>
    /// <paramref name="kernelParams"/>[i] points at the value of kernel parameter i (the driver copies
    /// the values at launch, so stack storage is fine). <paramref name="extra"/> is unused (null).
    /// </summary>
    [LibraryImport(NativeLibraries.Driver)]
    internal static partial CUresult cuLaunchKernel(CUfunction f,
        uint gridDimX, uint gridDimY, uint gridDimZ,
        uint blockDimX, uint blockDimY, uint blockDimZ,
        uint sharedMemBytes, CUstream stream, void** kernelParams, void** extra);
}
