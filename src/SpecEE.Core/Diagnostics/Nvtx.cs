using System.Runtime.InteropServices;

namespace SpecEE.Core.Diagnostics;

/// <summary>
/// NVTX ranges and marks, so Nsight Systems shows where a run spends its time (prefill, each decode step, SpecEE
/// exits) on the CPU timeline next to the CUDA work. Calls go to NVIDIA's <c>libnvToolsExt.so.1</c>
/// (<c>nvToolsExt64_1.dll</c>) when the process can load it — it ships with the CUDA toolkit and forwards to the
/// profiler's injection library while a profiler runs — and cost one null check when it cannot.
/// </summary>
/// <remarks>
/// Loaded by hand (function pointers from the exports) rather than with [LibraryImport]: the library is optional,
/// and NVTX 3's header-only API needs a C compiler with the toolkit's headers, which this project does not assume.
/// The library is process-wide, so is this state. <see cref="LibraryVariable"/> names a library explicitly.
/// </remarks>
public static unsafe class Nvtx
{
    /// <summary>Environment variable with an explicit library path (tried first).</summary>
    public const string LibraryVariable = "SPECEE_NVTX_LIB";

    // Longest name passed on (UTF-8 bytes); longer names are cut at a character boundary.
    private const int MaxNameBytes = 255;

    internal sealed class Api
    {
        public required string Path;
        public required delegate* unmanaged<byte*, int> Push;
        public required delegate* unmanaged<int> Pop;
        public required delegate* unmanaged<byte*, void> Mark;
    }

    private static volatile Api? _api = Load(Candidates());

    /// <summary>True when an NVTX library is loaded and calls reach it.</summary>
    public static bool IsEnabled => _api != null;

    /// <summary>The loaded library's path or name; null when NVTX calls are no-ops.</summary>
    public static string? LibraryPath => _api?.Path;

    /// <summary>Opens a range; dispose the result to close it. <c>using var _ = Nvtx.Range("prefill");</c></summary>
    public static Scope Range(string name)
    {
        var api = _api;
        if (api == null) return default;
        Call(api.Push, name);
        return new Scope(api);
    }

    /// <summary>An instantaneous marker on the timeline.</summary>
    public static void Mark(string name)
    {
        var api = _api;
        if (api == null) return;
        byte* text = stackalloc byte[MaxNameBytes + 1];
        Encode(name, text);
        api.Mark(text);
    }

    /// <summary>Closes the range it was opened with (a no-op for the default value).</summary>
    public readonly struct Scope : IDisposable
    {
        private readonly Api? _api;
        internal Scope(Api api) => _api = api;
        public void Dispose()
        {
            if (_api != null) _api.Pop();
        }
    }

    /// <summary>
    /// Switches to the library at <paramref name="path"/> (or back to the default search when null) and says
    /// whether one is loaded. For tests and tools; not safe while another thread has a range open.
    /// </summary>
    public static bool UseLibrary(string? path)
    {
        _api = path == null ? Load(Candidates()) : Load([path]);
        return _api != null;
    }

    private static void Call(delegate* unmanaged<byte*, int> push, string name)
    {
        byte* text = stackalloc byte[MaxNameBytes + 1];
        Encode(name, text);
        push(text);
    }

    // NUL-terminated UTF-8, cut to MaxNameBytes without splitting a character.
    private static void Encode(string name, byte* destination)
    {
        var dst = new Span<byte>(destination, MaxNameBytes);
        System.Text.Unicode.Utf8.FromUtf16(name, dst, out _, out int written, replaceInvalidSequences: true, isFinalBlock: true);
        destination[written] = 0;
    }

    private static IEnumerable<string> Candidates()
    {
        string? explicitPath = Environment.GetEnvironmentVariable(LibraryVariable);
        if (!string.IsNullOrEmpty(explicitPath)) yield return explicitPath;
        if (OperatingSystem.IsWindows())
        {
            yield return "nvToolsExt64_1.dll";
            yield break;
        }
        yield return "libnvToolsExt.so.1";
        foreach (string? root in new[] { Environment.GetEnvironmentVariable("CUDA_PATH"), Environment.GetEnvironmentVariable("CUDA_HOME"), "/usr/local/cuda" })
            if (!string.IsNullOrEmpty(root)) yield return System.IO.Path.Combine(root, "lib64", "libnvToolsExt.so.1");
    }

    private static Api? Load(IEnumerable<string> candidates)
    {
        foreach (string candidate in candidates)
        {
            if (System.IO.Path.IsPathRooted(candidate) && !File.Exists(candidate)) continue;
            if (!NativeLibrary.TryLoad(candidate, out nint handle)) continue;
            if (NativeLibrary.TryGetExport(handle, "nvtxRangePushA", out nint push)
                && NativeLibrary.TryGetExport(handle, "nvtxRangePop", out nint pop)
                && NativeLibrary.TryGetExport(handle, "nvtxMarkA", out nint mark))
                return new Api
                {
                    Path = candidate,
                    Push = (delegate* unmanaged<byte*, int>)push,
                    Pop = (delegate* unmanaged<int>)pop,
                    Mark = (delegate* unmanaged<byte*, void>)mark,
                };
            NativeLibrary.Free(handle);
        }
        return null;
    }
}
