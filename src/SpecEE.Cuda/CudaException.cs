using SpecEE.Core;

namespace SpecEE.Cuda;

/// <summary>
/// A CUDA driver or NVRTC call failed. <see cref="Exception.Message"/> reads
/// <c>cuMemAlloc_v2(out p, bytes) failed: CUDA_ERROR_OUT_OF_MEMORY (out of memory)</c>, followed by the
/// compiler log on the next lines when NVRTC or the PTX JIT produced one.
/// </summary>
public sealed class CudaException : SpecEEException
{
    internal CudaException(int code, string errorName, string? description, string call, string? compilerLog)
        : base(Format(errorName, description, call, compilerLog))
    {
        Code = code;
        ErrorName = errorName;
        Call = call;
        CompilerLog = string.IsNullOrWhiteSpace(compilerLog) ? null : compilerLog;
    }

    /// <summary>The raw CUresult / nvrtcResult value.</summary>
    public int Code { get; }

    /// <summary>The native error name, e.g. CUDA_ERROR_INVALID_PTX or NVRTC_ERROR_COMPILATION.</summary>
    public string ErrorName { get; }

    /// <summary>The source text of the failing call.</summary>
    public string Call { get; }

    /// <summary>NVRTC program log or PTX JIT error log, when there was one.</summary>
    public string? CompilerLog { get; }

    private static string Format(string name, string? description, string call, string? log)
    {
        string text = $"{call} failed: {name}";
        if (!string.IsNullOrEmpty(description) && description != name) text += $" ({description})";
        if (!string.IsNullOrWhiteSpace(log)) text += Environment.NewLine + log.TrimEnd();
        return text;
    }

    /// <summary>A call expression on one line: collapses the whitespace of multi-line argument lists.</summary>
    internal static string OneLine(string call) =>
        string.Join(' ', call.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries));
}
