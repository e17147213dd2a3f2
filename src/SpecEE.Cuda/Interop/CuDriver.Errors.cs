using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace SpecEE.Cuda.Interop;

// Driver API, group: error names, and the one Check every CUresult goes through.
internal static unsafe partial class CuDriver
{
    [LibraryImport(NativeLibraries.Driver)]
    internal static partial CUresult cuGetErrorName(CUresult error, out byte* name);

    [LibraryImport(NativeLibraries.Driver)]
    internal static partial CUresult cuGetErrorString(CUresult error, out byte* description);

    /// <summary>Throws <see cref="CudaException"/> unless <paramref name="result"/> is CUDA_SUCCESS.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Check(CUresult result, [CallerArgumentExpression(nameof(result))] string call = "")
    {
        if (result != CUresult.CUDA_SUCCESS) throw Failure(result, call, null);
    }

    /// <summary>As <see cref="Check"/>, for the PTX JIT: the error log goes into the message.</summary>
    internal static void CheckJit(CUresult result, string? jitLog, [CallerArgumentExpression(nameof(result))] string call = "")
    {
        if (result != CUresult.CUDA_SUCCESS) throw Failure(result, call, jitLog);
    }

    internal static CudaException Failure(CUresult result, string call, string? log) =>
        new((int)result, ErrorName(result), ErrorDescription(result), CudaException.OneLine(call), log);

    /// <summary>
    /// The driver's name for <paramref name="result"/>; without a usable libcuda (the no-device path) the
    /// names this file knows, else "CUresult &lt;n&gt;".
    /// </summary>
    internal static string ErrorName(CUresult result)
    {
        if (NativeLibraries.TryLoadDriver(out _))
        {
            try
            {
                if (cuGetErrorName(result, out byte* p) == CUresult.CUDA_SUCCESS && p != null)
                    return Marshal.PtrToStringUTF8((nint)p) ?? "";
            }
            catch (EntryPointNotFoundException) { /* a stub or very old libcuda: fall through */ }
        }
        return Enum.IsDefined(result) ? result.ToString() : $"CUresult {(int)result}";
    }

    private static string? ErrorDescription(CUresult result)
    {
        if (!NativeLibraries.TryLoadDriver(out _)) return null;
        try
        {
            return cuGetErrorString(result, out byte* p) == CUresult.CUDA_SUCCESS && p != null
                ? Marshal.PtrToStringUTF8((nint)p) : null;
        }
        catch (EntryPointNotFoundException) { return null; }
    }
}
