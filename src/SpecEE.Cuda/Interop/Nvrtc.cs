using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace SpecEE.Cuda.Interop;

/// <summary>NVRTC (runtime compilation of CUDA C++), signatures as in nvrtc.h.</summary>
internal static unsafe partial class NvrtcApi
{
    [LibraryImport(NativeLibraries.Nvrtc)]
    internal static partial NvrtcResult nvrtcVersion(out int major, out int minor);

    /// <summary>Since NVRTC 11.2; absent symbols raise EntryPointNotFoundException.</summary>
    [LibraryImport(NativeLibraries.Nvrtc)]
    internal static partial NvrtcResult nvrtcGetNumSupportedArchs(out int count);

    [LibraryImport(NativeLibraries.Nvrtc)]
    internal static partial NvrtcResult nvrtcGetSupportedArchs(int* archs);

    /// <summary>
    /// <paramref name="headers"/>[i] is the text of the header that <c>#include "includeNames[i]"</c> resolves to.
    /// All strings are NUL-terminated UTF-8.
    /// </summary>
    [LibraryImport(NativeLibraries.Nvrtc)]
    internal static partial NvrtcResult nvrtcCreateProgram(out NvrtcProgram program, byte* source, byte* name,
        int numHeaders, byte** headers, byte** includeNames);

    [LibraryImport(NativeLibraries.Nvrtc)]
    internal static partial NvrtcResult nvrtcCompileProgram(NvrtcProgram program, int numOptions, byte** options);

    /// <summary>Size includes the terminating NUL (1 for an empty log).</summary>
    [LibraryImport(NativeLibraries.Nvrtc)]
    internal static partial NvrtcResult nvrtcGetProgramLogSize(NvrtcProgram program, out nuint size);

    [LibraryImport(NativeLibraries.Nvrtc)]
    internal static partial NvrtcResult nvrtcGetProgramLog(NvrtcProgram program, byte* log);

    /// <summary>Size includes the terminating NUL.</summary>
    [LibraryImport(NativeLibraries.Nvrtc)]
    internal static partial NvrtcResult nvrtcGetPTXSize(NvrtcProgram program, out nuint size);

    [LibraryImport(NativeLibraries.Nvrtc)]
    internal static partial NvrtcResult nvrtcGetPTX(NvrtcProgram program, byte* ptx);

    /// <summary>0 when the program was compiled for a virtual architecture (compute_XX).</summary>
    [LibraryImport(NativeLibraries.Nvrtc)]
    internal static partial NvrtcResult nvrtcGetCUBINSize(NvrtcProgram program, out nuint size);

    [LibraryImport(NativeLibraries.Nvrtc)]
    internal static partial NvrtcResult nvrtcGetCUBIN(NvrtcProgram program, byte* cubin);

    [LibraryImport(NativeLibraries.Nvrtc)]
    internal static partial NvrtcResult nvrtcDestroyProgram(ref NvrtcProgram program);

    [LibraryImport(NativeLibraries.Nvrtc)]
    internal static partial byte* nvrtcGetErrorString(NvrtcResult result);

    /// <summary>Throws <see cref="CudaException"/> unless <paramref name="result"/> is NVRTC_SUCCESS.</summary>
    internal static void Check(NvrtcResult result, [CallerArgumentExpression(nameof(result))] string call = "")
    {
        if (result != NvrtcResult.NVRTC_SUCCESS) throw Failure(result, call, null);
    }

    /// <summary>As <see cref="Check"/>, with the program log in the message (compilation failures).</summary>
    internal static void CheckCompile(NvrtcResult result, string? programLog, [CallerArgumentExpression(nameof(result))] string call = "")
    {
        if (result != NvrtcResult.NVRTC_SUCCESS) throw Failure(result, call, programLog);
    }

    internal static CudaException Failure(NvrtcResult result, string call, string? log) =>
        new((int)result, ErrorName(result), null, CudaException.OneLine(call), log);

    /// <summary>nvrtcGetErrorString returns the enumerator's name (NVRTC_ERROR_COMPILATION); same fallback as the driver.</summary>
    internal static string ErrorName(NvrtcResult result)
    {
        if (NativeLibraries.TryLoadNvrtc(out _))
        {
            byte* p = nvrtcGetErrorString(result);
            if (p != null) return Marshal.PtrToStringUTF8((nint)p) ?? "";
        }
        return Enum.IsDefined(result) ? result.ToString() : $"nvrtcResult {(int)result}";
    }
}
