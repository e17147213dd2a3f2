using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;

namespace SpecEE.Cuda.Nvrtc;

/// <summary>Where a <see cref="CompiledKernel"/> came from.</summary>
public enum KernelCacheSource
{
    /// <summary>NVRTC ran.</summary>
    Compiled,
    /// <summary>This cache object had it in memory.</summary>
    Memory,
    /// <summary>Read back from the cache directory (e.g. written by an earlier process).</summary>
    Disk,
}

/// <summary>
/// Compiled kernel images keyed by SHA-256 of everything that determines them (source, headers, options,
/// arch, NVRTC version), in memory and optionally in a directory shared between processes.
/// Disk entries are written to a temporary file and renamed into place, so a reader sees either nothing
/// or a whole file; each file also carries the SHA-256 of its payload, so a damaged one is recompiled.
/// The disk is an optimisation: I/O errors fall back to compiling, and are reported in <see cref="LastDiskError"/>.
/// </summary>
public sealed class KernelCache
{
    /// <summary>Environment variable that overrides <see cref="DefaultDirectory"/>.</summary>
    public const string DirectoryVariable = "SPECEE_KERNEL_CACHE";

    private static ReadOnlySpan<byte> Magic => "SPKC"u8;
    private const int FormatVersion = 1;
    private const int HeaderBytes = 4 + 4 + 32; // magic, version, SHA-256 of payload

    private readonly ConcurrentDictionary<string, ReadOnlyMemory<byte>> _memory = new(StringComparer.Ordinal);

    /// <summary>A cache in memory and, when <paramref name="directory"/> is not null, on disk there.</summary>
    public KernelCache(string? directory) => Directory = directory;

    /// <summary>A cache in <see cref="DefaultDirectory"/>.</summary>
    public static KernelCache CreateDefault() => new(DefaultDirectory());

    /// <summary>The disk location, or null for memory only.</summary>
    public string? Directory { get; }

    /// <summary>The last disk read/write failure (null if none); the cache kept working from memory.</summary>
    public string? LastDiskError { get; private set; }

    /// <summary>
    /// $SPECEE_KERNEL_CACHE, else $XDG_CACHE_HOME/specee/kernels, else ~/.cache/specee/kernels
    /// (%LOCALAPPDATA%\specee\kernels on Windows).
    /// </summary>
    public static string DefaultDirectory()
    {
        string? explicitDir = Environment.GetEnvironmentVariable(DirectoryVariable);
        if (!string.IsNullOrEmpty(explicitDir)) return explicitDir;
        if (OperatingSystem.IsWindows())
            return Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData), "specee", "kernels");
        string? xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
        string root = !string.IsNullOrEmpty(xdg) ? xdg
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
        return Path.Combine(root, "specee", "kernels");
    }

    /// <summary>
    /// Hex SHA-256 of source ‖ headers ‖ options ‖ arch ‖ NVRTC version. Every field is length-prefixed,
    /// so no two different inputs concatenate to the same byte string.
    /// </summary>
    public static string ComputeKey(string source, IEnumerable<KeyValuePair<string, string>> headers,
        IEnumerable<string> options, string arch, string nvrtcVersion)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        void Add(string field)
        {
            byte[] bytes = Encoding.UTF8.GetBytes(field);
            Span<byte> length = stackalloc byte[8];
            BinaryPrimitives.WriteInt64LittleEndian(length, bytes.Length);
            hash.AppendData(length);
            hash.AppendData(bytes);
        }
        Add("source"); Add(source);
        foreach (var (name, text) in headers.OrderBy(h => h.Key, StringComparer.Ordinal)) { Add("header"); Add(name); Add(text); }
        foreach (string option in options) { Add("option"); Add(option); }
        Add("arch"); Add(arch);
        Add("nvrtc"); Add(nvrtcVersion);
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    /// <summary>The image stored under <paramref name="key"/>, from memory or disk.</summary>
    public bool TryGet(string key, out ReadOnlyMemory<byte> image, out KernelCacheSource source)
    {
        if (_memory.TryGetValue(key, out image)) { source = KernelCacheSource.Memory; return true; }
        source = KernelCacheSource.Disk;
        if (Directory is null || !TryReadFile(PathFor(key), out image)) return false;
        _memory.TryAdd(key, image);
        return true;
    }

    /// <summary>Stores <paramref name="image"/> under <paramref name="key"/> in memory and on disk.</summary>
    public void Put(string key, ReadOnlyMemory<byte> image)
    {
        _memory[key] = image;
        if (Directory is null) return;
        string path = PathFor(key);
        string temp = Path.Combine(Directory, $".{key}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        try
        {
            System.IO.Directory.CreateDirectory(Directory);
            var bytes = new byte[HeaderBytes + image.Length];
            Magic.CopyTo(bytes);
            BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(4), FormatVersion);
            SHA256.HashData(image.Span, bytes.AsSpan(8, 32));
            image.Span.CopyTo(bytes.AsSpan(HeaderBytes));
            File.WriteAllBytes(temp, bytes);
            File.Move(temp, path, overwrite: true); // rename(2): atomic within one directory
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            LastDiskError = $"writing {path}: {e.Message}";
            try { File.Delete(temp); } catch (Exception d) when (d is IOException or UnauthorizedAccessException) { /* best effort */ }
        }
    }

    /// <summary>Removes the memory entries (the disk stays): what a new process would start with.</summary>
    public void ClearMemory() => _memory.Clear();

    private string PathFor(string key) => Path.Combine(Directory!, key + ".bin");

    private bool TryReadFile(string path, out ReadOnlyMemory<byte> image)
    {
        image = default;
        byte[] bytes;
        try
        {
            if (!File.Exists(path)) return false;
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            LastDiskError = $"reading {path}: {e.Message}";
            return false;
        }
        if (bytes.Length < HeaderBytes || !bytes.AsSpan(0, 4).SequenceEqual(Magic)
            || BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(4)) != FormatVersion)
            return false;
        Span<byte> digest = stackalloc byte[32];
        SHA256.HashData(bytes.AsSpan(HeaderBytes), digest);
        if (!digest.SequenceEqual(bytes.AsSpan(8, 32))) return false;
        image = bytes.AsMemory(HeaderBytes);
        return true;
    }
}
