using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace SpecEE.Cuda.Interop;

/// <summary>
/// Finds libcuda and NVRTC at run time. The [LibraryImport]s name the logical libraries
/// <see cref="Driver"/> and <see cref="Nvrtc"/>; the resolver registered at module load maps them to the
/// first candidate file that loads. Probing happens once per process (dlopen is process-wide anyway);
/// the result, including why nothing loaded, is kept so callers can report a clean reason.
/// </summary>
internal static class NativeLibraries
{
    public const string Driver = "specee_cuda_driver";
    public const string Nvrtc = "specee_nvrtc";
    public const string CudaSim = "specee_cudasim";

    /// <summary>Environment variable naming the cudasim library file (libspecee_cudasim.so) to use.</summary>
    public const string CudaSimPathVariable = "SPECEE_CUDASIM_LIB";

    /// <summary>Environment variable naming an NVRTC library file to use before the usual names.</summary>
    public const string NvrtcPathVariable = "SPECEE_NVRTC";

    private static readonly Lazy<Probe> DriverProbe = new(() => ProbeFirst("libcuda", DriverCandidates()));
    private static readonly Lazy<Probe> NvrtcProbe = new(() => ProbeFirst("NVRTC", NvrtcCandidates()));
    private static readonly Lazy<Probe> CudaSimProbe = new(() => ProbeFirst("cudasim", CudaSimCandidates()));

    private sealed record Probe(nint Handle, string? LoadedName, string? FailureReason);

#pragma warning disable CA2255 // a module initializer is exactly right: the resolver must exist before any P/Invoke of this assembly
    [ModuleInitializer]
#pragma warning restore CA2255
    internal static void RegisterResolver() =>
        NativeLibrary.SetDllImportResolver(typeof(NativeLibraries).Assembly, Resolve);

    private static nint Resolve(string name, Assembly assembly, DllImportSearchPath? searchPath) => name switch
    {
        Driver => DriverProbe.Value.Handle,
        Nvrtc => NvrtcProbe.Value.Handle,
        CudaSim => CudaSimProbe.Value.Handle,
        _ => 0,
    };

    /// <summary>True when libcuda loaded; otherwise <paramref name="reason"/> says what was tried.</summary>
    public static bool TryLoadDriver(out string reason) => TryLoad(DriverProbe.Value, out reason);

    /// <summary>True when an NVRTC library loaded; otherwise <paramref name="reason"/> says what was tried.</summary>
    public static bool TryLoadNvrtc(out string reason) => TryLoad(NvrtcProbe.Value, out reason);

    /// <summary>True when the CPU simulator library loaded; otherwise <paramref name="reason"/> says what was tried.</summary>
    public static bool TryLoadCudaSim(out string reason) => TryLoad(CudaSimProbe.Value, out reason);

    /// <summary>Path of the cudasim library in use, or null.</summary>
    public static string? CudaSimLibraryName => CudaSimProbe.Value.LoadedName;

    /// <summary>File name of the NVRTC library in use (e.g. libnvrtc.so.12), or null.</summary>
    public static string? NvrtcLibraryName => NvrtcProbe.Value.LoadedName;

    private static bool TryLoad(Probe probe, out string reason)
    {
        reason = probe.FailureReason ?? "";
        return probe.Handle != 0;
    }

    private static IEnumerable<string> DriverCandidates()
    {
        if (OperatingSystem.IsWindows()) return ["nvcuda.dll"];
        // libcuda.so.1 is the soname the driver installs; the bare name exists only with dev symlinks.
        return ["libcuda.so.1", "libcuda.so"];
    }

    private static IEnumerable<string> NvrtcCandidates()
    {
        string? explicitPath = Environment.GetEnvironmentVariable(NvrtcPathVariable);
        if (!string.IsNullOrEmpty(explicitPath)) yield return explicitPath;

        string[] names = OperatingSystem.IsWindows()
            ? ["nvrtc64_130_0.dll", "nvrtc64_120_0.dll", "nvrtc64_112_0.dll"]
            // Newest first. 11.2 is the soname of every 11.x release from 11.2 on (Debian's libnvrtc11.2 is 11.8).
            : ["libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so.11.2", "libnvrtc.so"];
        foreach (string n in names) yield return n;

        // A toolkit outside the loader's search path: honour the usual variables and the default prefix.
        string lib = OperatingSystem.IsWindows() ? "bin" : "lib64";
        foreach (string? root in new[] { Environment.GetEnvironmentVariable("CUDA_PATH"),
                     Environment.GetEnvironmentVariable("CUDA_HOME"), OperatingSystem.IsWindows() ? null : "/usr/local/cuda" })
        {
            if (string.IsNullOrEmpty(root)) continue;
            foreach (string n in names) yield return Path.Combine(root, lib, n);
        }
    }

    private static IEnumerable<string> CudaSimCandidates()
    {
        const string file = "libspecee_cudasim.so";
        string? explicitPath = Environment.GetEnvironmentVariable(CudaSimPathVariable);
        if (!string.IsNullOrEmpty(explicitPath)) yield return explicitPath;
        yield return Path.Combine(AppContext.BaseDirectory, file); // copied next to the assemblies
        // A developer checkout: CMake's output folder (cmake -B build/native) above the assembly.
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, "build", "native", "lib", file);
            if (File.Exists(candidate)) { yield return candidate; yield break; }
        }
    }

    private static Probe ProbeFirst(string what, IEnumerable<string> candidates)
    {
        var tried = new List<string>();
        foreach (string candidate in candidates)
        {
            // Absolute candidates that do not exist are toolkit-prefix guesses: skip them quietly, except the
            // explicit override, whose absence the message must show.
            if (Path.IsPathRooted(candidate) && !File.Exists(candidate))
            {
                if (candidate == Environment.GetEnvironmentVariable(NvrtcPathVariable)
                    || candidate == Environment.GetEnvironmentVariable(CudaSimPathVariable))
                    tried.Add(candidate + " (no such file)");
                continue;
            }
            if (NativeLibrary.TryLoad(candidate, out nint handle)) return new Probe(handle, candidate, null);
            tried.Add(candidate);
        }
        string hint = what switch
        {
            "libcuda" => " (is the NVIDIA driver installed?)",
            "NVRTC" => $" (install the CUDA NVRTC runtime or set {NvrtcPathVariable})",
            _ => $" (build it with: cmake -S . -B build/native && cmake --build build/native; or set {CudaSimPathVariable})",
        };
        if (tried.Count == 0) tried.Add("no candidate file exists");
        return new Probe(0, null, $"{what} could not be loaded{hint}; tried {string.Join(", ", tried.Distinct())}");
    }
}
