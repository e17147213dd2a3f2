using System.Buffers.Binary;
using SpecEE.Core.Model;

namespace SpecEE.Core.Formats;

/// <summary>
/// Opens a model from a file or a directory, choosing the reader by content rather than by name:
/// GGUF (magic "GGUF"), safetensors (u64 header length, then '{'), llama2.c legacy (a header whose
/// tensors need exactly the file's size; the format has no magic). When content is ambiguous (a truncated or
/// corrupt file), the extension picks the reader whose error message explains what is wrong.
/// </summary>
public static class ModelLoader
{
    /// <summary>What <see cref="Load"/> accepts, for error messages.</summary>
    public const string AcceptedFormats =
        "a GGUF file (.gguf), a llama2.c legacy checkpoint (.bin, version 0), an HF Llama directory " +
        "(config.json + model.safetensors, or + model.safetensors.index.json and its shards), or a .safetensors file " +
        "with config.json beside it";

    private const int SniffBytes = 64;
    private const string ShardIndexName = "model.safetensors.index.json";

    /// <summary>Loads the model at <paramref name="fileOrDir"/>; every failure is a <see cref="ModelFormatException"/> naming the path.</summary>
    public static LlamaModel Load(string fileOrDir)
    {
        if (string.IsNullOrWhiteSpace(fileOrDir))
            throw new ModelFormatException($"no model path given; expected {AcceptedFormats}");
        if (Directory.Exists(fileOrDir)) return LoadDirectory(fileOrDir);
        string path = fileOrDir;
        if (!File.Exists(path)) throw new ModelFormatException($"{path}: file not found");

        var (head, length) = ReadHead(path);
        if (length == 0) throw new ModelFormatException($"{path}: empty file (0 bytes); expected {AcceptedFormats}");
        string ext = Path.GetExtension(path).ToLowerInvariant();

        // A .gguf without the magic still goes to the GGUF reader, whose error says what the first bytes should be.
        if (IsGgufMagic(head) || ext == ".gguf") return GgufLlamaReader.Load(path);

        if (Path.GetFileName(path) is "config.json" or ShardIndexName) return LoadDirectory(DirectoryOf(path));
        if (LooksLikeSafetensors(head, length) || ext == ".safetensors") return LoadSafetensorsBesideConfig(path);
        if (Llama2cReader.HeaderMatchesLength(head, length) || ext == ".bin") return Llama2cReader.Load(path);
        throw new ModelFormatException($"{path}: unknown model format ({length} bytes, starting {Hex(head)}); expected {AcceptedFormats}");
    }

    /// <summary>
    /// The tokenizer that goes with the model at <paramref name="fileOrDir"/>, or null when none is found:
    /// for a GGUF file, the file itself (llama.cpp embeds the vocabulary); for a llama2.c checkpoint of
    /// vocabulary V ≠ 32000, llama2.c's custom-vocab name <c>tok{V}.model</c> beside it if present;
    /// otherwise <c>tokenizer.model</c> in the model's directory.
    /// </summary>
    /// <remarks>
    /// The more specific source wins over a tokenizer.model beside the file because such folders mix models:
    /// tests/fixtures holds stories260K.bin and tinystories-16L-*.gguf (512-piece vocabularies) next to the
    /// 32000-piece Llama-2 tokenizer.model, and llama2.c keeps tok512.model beside it the same way.
    /// </remarks>
    public static string? FindTokenizer(string fileOrDir)
    {
        if (string.IsNullOrWhiteSpace(fileOrDir)) return null;
        bool isDir = Directory.Exists(fileOrDir);
        if (!isDir && !File.Exists(fileOrDir)) return null;
        string dir = isDir ? fileOrDir : DirectoryOf(fileOrDir);

        if (!isDir)
        {
            byte[] head;
            long length;
            try
            {
                (head, length) = ReadHead(fileOrDir);
            }
            catch (ModelFormatException)
            {
                return null;
            }
            if (IsGgufMagic(head) || Path.GetExtension(fileOrDir).Equals(".gguf", StringComparison.OrdinalIgnoreCase))
                return fileOrDir;
            if (Llama2cReader.HeaderMatchesLength(head, length) && Llama2cReader.HeaderVocab(head) is int vocab and not 32000)
            {
                string custom = Path.Combine(dir, $"tok{vocab}.model");
                if (File.Exists(custom)) return custom;
            }
        }
        string standard = Path.Combine(dir, "tokenizer.model");
        return File.Exists(standard) ? standard : null;
    }

    private static LlamaModel LoadDirectory(string dir)
    {
        string config = Path.Combine(dir, "config.json");
        string weights = Path.Combine(dir, "model.safetensors");
        if (!File.Exists(config))
            throw new ModelFormatException(
                $"{dir}: directory has no config.json; a model directory is an HF Llama checkpoint (config.json + model.safetensors). " +
                $"Accepted: {AcceptedFormats}");
        if (File.Exists(weights)) return HfLlamaReader.Load(config, weights);
        string index = Path.Combine(dir, ShardIndexName);
        if (File.Exists(index)) return HfLlamaReader.LoadSharded(config, index);
        var others = Directory.GetFiles(dir, "*.safetensors").Select(Path.GetFileName).Order(StringComparer.Ordinal).ToArray();
        throw new ModelFormatException(
            $"{dir}: directory has config.json but neither model.safetensors nor {ShardIndexName}" +
            (others.Length > 0 ? $" (found {string.Join(", ", others)}; pass the weights file itself)" : ""));
    }

    private static LlamaModel LoadSafetensorsBesideConfig(string path)
    {
        string config = Path.Combine(DirectoryOf(path), "config.json");
        if (!File.Exists(config))
            throw new ModelFormatException($"{path}: a safetensors checkpoint needs its config.json beside it, and {config} does not exist");
        // One shard of a sharded checkpoint means the whole checkpoint its index describes.
        string index = Path.Combine(DirectoryOf(path), ShardIndexName);
        if (IndexMentions(index, Path.GetFileName(path))) return HfLlamaReader.LoadSharded(config, index);
        return HfLlamaReader.Load(config, path);
    }

    private static bool IndexMentions(string index, string shardName)
    {
        try
        {
            return File.Exists(index) && File.ReadAllText(index).Contains($"\"{shardName}\"", StringComparison.Ordinal);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false; // an unreadable index: treat the file as a single checkpoint, whose reader reports any problem
        }
    }

    private static (byte[] Head, long Length) ReadHead(string path)
    {
        try
        {
            using var f = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
            var head = new byte[(int)Math.Min(SniffBytes, f.Length)];
            f.ReadExactly(head);
            return (head, f.Length);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ModelFormatException($"{path}: cannot read ({e.Message})", e);
        }
    }

    private static bool IsGgufMagic(ReadOnlySpan<byte> head) => head.StartsWith("GGUF"u8);

    /// <summary>safetensors has no magic: a plausible u64 header length followed by the opening brace of its JSON.</summary>
    private static bool LooksLikeSafetensors(ReadOnlySpan<byte> head, long length) =>
        head.Length >= 9 && BinaryPrimitives.ReadUInt64LittleEndian(head) is var n && n >= 2 && n <= (ulong)(length - 8) && head[8] == (byte)'{';

    private static string DirectoryOf(string path) => Path.GetDirectoryName(Path.GetFullPath(path)) ?? ".";

    private static string Hex(ReadOnlySpan<byte> head) => Convert.ToHexString(head[..Math.Min(8, head.Length)]);
}
