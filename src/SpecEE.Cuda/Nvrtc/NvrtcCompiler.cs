using System.Runtime.InteropServices;
using System.Text;
using SpecEE.Core;
using SpecEE.Cuda.Interop;
using SpecEE.Cuda.Kernels;

namespace SpecEE.Cuda.Nvrtc;

/// <summary>What NVRTC produces: machine code for one GPU, or PTX the driver JIT-compiles.</summary>
public enum NvrtcTarget
{
    /// <summary>CUBIN for sm_XX (<c>--gpu-architecture=sm_XX</c>).</summary>
    Cubin,
    /// <summary>PTX for compute_XX (<c>--gpu-architecture=compute_XX</c>), NUL-terminated.</summary>
    Ptx,
}

/// <summary>How to compile. <paramref name="Arch"/> is the compute capability as a number: 80 for 8.0, 90 for 9.0.</summary>
/// <param name="Arch">Target compute capability ×10.</param>
/// <param name="Target">CUBIN (default) or PTX.</param>
/// <param name="FastMath">--use_fast_math (off: our reference tests assume IEEE division and sqrt).</param>
/// <param name="Defines">-D entries, "NAME" or "NAME=VALUE".</param>
/// <param name="LineInfo">-lineinfo, for profilers.</param>
public sealed record NvrtcOptions(int Arch, NvrtcTarget Target = NvrtcTarget.Cubin, bool FastMath = false,
    IReadOnlyList<string>? Defines = null, bool LineInfo = false)
{
    /// <summary>sm_90 or compute_90.</summary>
    public string ArchName => (Target == NvrtcTarget.Cubin ? "sm_" : "compute_") + Arch;
}

/// <summary>A compiled module image.</summary>
/// <param name="Name">The source name given to the compiler.</param>
/// <param name="Image">CUBIN bytes, or PTX text with its terminating NUL (as cuModuleLoadDataEx wants it).</param>
/// <param name="Options">Its compiler options.</param>
/// <param name="Log">NVRTC's log: empty when the source compiled with no warnings; empty for cached images.</param>
/// <param name="Source">Compiled now, or found in the cache.</param>
public sealed record CompiledKernel(string Name, ReadOnlyMemory<byte> Image, NvrtcOptions Options, string Log, KernelCacheSource Source)
{
    /// <summary>The PTX as text (Target = Ptx only).</summary>
    public string PtxText => Options.Target == NvrtcTarget.Ptx
        ? Encoding.UTF8.GetString(Image.Span.TrimEnd((byte)0))
        : throw new InvalidOperationException($"{Name} was compiled to CUBIN, not PTX");
}

/// <summary>
/// Compiles CUDA C++ with NVRTC, with <see cref="KernelSources.Prelude"/> available as
/// <c>#include "specee_prelude.cuh"</c> and results cached in <see cref="Cache"/>.
/// </summary>
public sealed unsafe class NvrtcCompiler
{
    private readonly KeyValuePair<string, string>[] _headers = [new(KernelSources.PreludeName, KernelSources.Prelude)];
    private int _compileCount;

    /// <summary>Throws <see cref="SpecEEException"/> ("NVRTC not available: …") when no NVRTC library loads.</summary>
    public NvrtcCompiler(KernelCache? cache = null)
    {
        if (!IsAvailable(out string reason)) throw new SpecEEException("NVRTC not available: " + reason);
        Cache = cache;
        NvrtcApi.Check(NvrtcApi.nvrtcVersion(out int major, out int minor));
        Version = new Version(major, minor);
        SupportedArchs = QuerySupportedArchs();
    }

    /// <summary>True when an NVRTC library can be loaded; otherwise why not.</summary>
    public static bool IsAvailable(out string reason) => NativeLibraries.TryLoadNvrtc(out reason);

    /// <summary>nvrtcVersion (e.g. 12.4). The cache key includes it.</summary>
    public Version Version { get; }

    /// <summary>Loaded library file, e.g. libnvrtc.so.12.</summary>
    public string LibraryName => NativeLibraries.NvrtcLibraryName ?? "";

    /// <summary>Archs NVRTC can compile for (nvrtcGetSupportedArchs); empty when the library predates that call.</summary>
    public IReadOnlyList<int> SupportedArchs { get; }

    /// <summary>Null: no caching.</summary>
    public KernelCache? Cache { get; }

    /// <summary>How many times this compiler actually ran NVRTC (cache misses).</summary>
    public int CompileCount => Volatile.Read(ref _compileCount);

    /// <summary>True if NVRTC can compile for <paramref name="arch"/> (unknown lists count as yes).</summary>
    public bool Supports(int arch) => SupportedArchs.Count == 0 || SupportedArchs.Contains(arch);

    /// <summary>The exact option strings passed to nvrtcCompileProgram.</summary>
    public static IReadOnlyList<string> BuildOptions(NvrtcOptions options)
    {
        var list = new List<string> { "--gpu-architecture=" + options.ArchName, "-default-device", "-std=c++17" };
        if (options.FastMath) list.Add("--use_fast_math");
        if (options.LineInfo) list.Add("-lineinfo");
        foreach (string define in options.Defines ?? []) list.Add("-D" + define);
        return list;
    }

    /// <summary>
    /// Compiles <paramref name="source"/> (file name <paramref name="name"/> in messages). Throws
    /// <see cref="CudaException"/> with NVRTC's log when it does not compile, and
    /// <see cref="InvalidRequestException"/> for an arch this NVRTC cannot target.
    /// </summary>
    public CompiledKernel Compile(string source, string name, NvrtcOptions options)
    {
        if (!Supports(options.Arch))
            throw new InvalidRequestException($"NVRTC {Version} ({LibraryName}) cannot compile for {options.ArchName}; " +
                $"it supports sm_{string.Join(", sm_", SupportedArchs)}");
        IReadOnlyList<string> optionList = BuildOptions(options);
        string key = KernelCache.ComputeKey(source, _headers, optionList, options.ArchName, Version.ToString());
        if (Cache != null && Cache.TryGet(key, out ReadOnlyMemory<byte> cached, out KernelCacheSource from))
            return new CompiledKernel(name, cached, options, "", from);

        (byte[] image, string log) = RunNvrtc(source, name, options, optionList);
        Interlocked.Increment(ref _compileCount);
        Cache?.Put(key, image);
        return new CompiledKernel(name, image, options, log, KernelCacheSource.Compiled);
    }

    private (byte[] Image, string Log) RunNvrtc(string source, string name, NvrtcOptions options, IReadOnlyList<string> optionList)
    {
        using var strings = new Utf8StringArena();
        byte** headerTexts = stackalloc byte*[_headers.Length];
        byte** includeNames = stackalloc byte*[_headers.Length];
        for (int i = 0; i < _headers.Length; i++)
        {
            includeNames[i] = strings.Add(_headers[i].Key);
            headerTexts[i] = strings.Add(_headers[i].Value);
        }
        byte** optionPtrs = stackalloc byte*[optionList.Count];
        for (int i = 0; i < optionList.Count; i++) optionPtrs[i] = strings.Add(optionList[i]);

        NvrtcApi.Check(NvrtcApi.nvrtcCreateProgram(out NvrtcProgram created, strings.Add(source), strings.Add(name),
            _headers.Length, headerTexts, includeNames));
        using var program = new NvrtcProgramHandle(created);

        NvrtcResult compiled = NvrtcApi.nvrtcCompileProgram(program.Program, optionList.Count, optionPtrs);
        string log = ReadLog(program.Program);
        NvrtcApi.CheckCompile(compiled, log, $"nvrtcCompileProgram({name}, {string.Join(' ', optionList)})");

        byte[] image;
        if (options.Target == NvrtcTarget.Cubin)
        {
            NvrtcApi.Check(NvrtcApi.nvrtcGetCUBINSize(program.Program, out nuint size));
            image = new byte[(int)size];
            fixed (byte* p = image) NvrtcApi.Check(NvrtcApi.nvrtcGetCUBIN(program.Program, p));
        }
        else
        {
            NvrtcApi.Check(NvrtcApi.nvrtcGetPTXSize(program.Program, out nuint size));
            image = new byte[(int)size];
            fixed (byte* p = image) NvrtcApi.Check(NvrtcApi.nvrtcGetPTX(program.Program, p));
        }
        return (image, log);
    }

    private static string ReadLog(NvrtcProgram program)
    {
        NvrtcApi.Check(NvrtcApi.nvrtcGetProgramLogSize(program, out nuint size));
        if (size <= 1) return "";
        var buffer = new byte[(int)size];
        fixed (byte* p = buffer) NvrtcApi.Check(NvrtcApi.nvrtcGetProgramLog(program, p));
        return Encoding.UTF8.GetString(buffer.AsSpan().TrimEnd((byte)0)).TrimEnd();
    }

    private static IReadOnlyList<int> QuerySupportedArchs()
    {
        try
        {
            NvrtcApi.Check(NvrtcApi.nvrtcGetNumSupportedArchs(out int count));
            var archs = new int[count];
            fixed (int* p = archs) NvrtcApi.Check(NvrtcApi.nvrtcGetSupportedArchs(p));
            return archs;
        }
        catch (EntryPointNotFoundException)
        {
            return []; // NVRTC before 11.2
        }
    }

    /// <summary>NUL-terminated UTF-8 copies of managed strings, freed together.</summary>
    private sealed class Utf8StringArena : IDisposable
    {
        private readonly List<nint> _blocks = [];

        public byte* Add(string text)
        {
            nint p = Marshal.StringToCoTaskMemUTF8(text);
            _blocks.Add(p);
            return (byte*)p;
        }

        public void Dispose()
        {
            foreach (nint p in _blocks) Marshal.FreeCoTaskMem(p);
            _blocks.Clear();
        }
    }
}
