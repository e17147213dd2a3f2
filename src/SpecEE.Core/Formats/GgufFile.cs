namespace SpecEE.Core.Formats;

/// <summary>
/// A parsed GGUF (version 2 or 3) file: header, typed metadata, tensor infos and on-demand tensor reads.
/// Parsing reads only the header part; tensor data is read when asked for (<see cref="ReadF32"/>), so
/// files larger than 2 GB work as long as each single tensor fits in a .NET array.
/// Every count, length, offset and size is checked against the file length before anything is allocated;
/// bad input gives a <see cref="ModelFormatException"/> naming the file and what was expected.
/// </summary>
/// <remarks>
/// Metadata getters are in GgufFile.Metadata.cs. Shapes passed to and reported by this class are row-major,
/// outermost first (like safetensors): a llama.cpp matrix stored with ggml ne = [in, out] has shape [out, in].
/// </remarks>
public sealed partial class GgufFile
{
    private readonly byte[]? _bytes; // set when parsed from memory; otherwise tensor data is read from Path
    private readonly Dictionary<string, GgufMetaValue> _metadata;
    private readonly Dictionary<string, GgufTensorInfo> _tensors;

    /// <summary>The file name used in every error message.</summary>
    public string Path { get; }
    /// <summary>GGUF format version (2 or 3).</summary>
    public uint Version { get; }
    /// <summary>Alignment of tensor data: <c>general.alignment</c>, or 32 when absent.</summary>
    public uint Alignment { get; }
    /// <summary>File offset where the tensor data section starts (tensor offsets are relative to it).</summary>
    public long DataStart { get; }
    /// <summary>Length of the file in bytes.</summary>
    public long FileLength { get; }
    /// <summary>Metadata keys in file order.</summary>
    public IReadOnlyList<string> Keys { get; }
    /// <summary>Tensor infos in file order.</summary>
    public IReadOnlyList<GgufTensorInfo> Tensors { get; }
    /// <summary>All metadata values by key.</summary>
    public IReadOnlyDictionary<string, GgufMetaValue> Metadata => _metadata;

    private GgufFile(string path, byte[]? bytes, GgufParser.Parsed p)
    {
        Path = path; _bytes = bytes;
        Version = p.Version; Alignment = p.Alignment; DataStart = p.DataStart; FileLength = p.FileLength;
        _metadata = p.Metadata; _tensors = p.Tensors;
        Keys = p.KeyOrder;
        Tensors = p.TensorOrder.Select(n => p.Tensors[n]).ToArray();
    }

    /// <summary>Parses the header, metadata and tensor infos of the GGUF file at <paramref name="path"/>.</summary>
    public static GgufFile Open(string path)
    {
        if (!File.Exists(path)) throw new ModelFormatException($"{path}: file not found");
        try
        {
            using var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
            return new GgufFile(path, null, GgufParser.Parse(fs, path));
        }
        catch (IOException e)
        {
            throw new ModelFormatException($"{path}: cannot read GGUF file ({e.Message})", e);
        }
    }

    /// <summary>Parses a GGUF file held in memory; <paramref name="path"/> only names it in errors.</summary>
    public static GgufFile Parse(string path, byte[] bytes)
    {
        using var ms = new MemoryStream(bytes, writable: false);
        return new GgufFile(path, bytes, GgufParser.Parse(ms, path));
    }

    /// <summary>True when the file starts with the GGUF magic (used to dispatch on content rather than extension).</summary>
    public static bool HasMagic(string path)
    {
        if (!File.Exists(path)) return false;
        using var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 16);
        Span<byte> m = stackalloc byte[4];
        return fs.ReadAtLeast(m, 4, throwOnEndOfStream: false) == 4 && m.SequenceEqual("GGUF"u8);
    }

    public bool ContainsTensor(string name) => _tensors.ContainsKey(name);

    public bool TryGetTensor(string name, out GgufTensorInfo info) => _tensors.TryGetValue(name, out info!);

    /// <summary>The info of tensor <paramref name="name"/>; throws naming the file when it is missing.</summary>
    public GgufTensorInfo Tensor(string name) => _tensors.TryGetValue(name, out var i)
        ? i : throw new ModelFormatException($"{Path}: tensor '{name}' is missing");

    /// <summary>
    /// Reads tensor <paramref name="name"/> as fp32 after checking that its row-major shape (outermost first,
    /// the reverse of ggml's ne order) equals <paramref name="expectedShape"/>. Dequantises F32, F16, BF16 and Q8_0.
    /// </summary>
    public float[] ReadF32(string name, params long[] expectedShape)
    {
        var info = Tensor(name);
        if (!info.Shape.SequenceEqual(expectedShape))
            throw new ModelFormatException(
                $"{Path}: tensor '{name}' has shape {info.ShapeText} (ggml ne [{string.Join(", ", info.Dims)}]), expected [{string.Join(", ", expectedShape)}]");
        if (!GgufDequant.IsSupported(info.Type))
            throw new ModelFormatException(
                $"{Path}: tensor '{name}' is {GgmlTypeTraits.Name(info.Type)}, which this reader cannot dequantise (supported: F32, F16, BF16, Q8_0)");
        if (info.ElementCount > Array.MaxLength)
            throw new ModelFormatException($"{Path}: tensor '{name}' has {info.ElementCount} elements, more than one .NET array can hold");
        var dst = new float[info.ElementCount];
        GgufDequant.ToF32(info.Type, ReadRaw(info), dst);
        return dst;
    }

    /// <summary>The stored bytes of a tensor, exactly as in the file (quantised blocks included).</summary>
    public byte[] ReadRaw(string name) => ReadRaw(Tensor(name));

    private byte[] ReadRaw(GgufTensorInfo info)
    {
        if (info.ByteSize > Array.MaxLength)
            throw new ModelFormatException($"{Path}: tensor '{info.Name}' is {info.ByteSize} bytes, more than one .NET array can hold");
        long at = DataStart + info.Offset;
        var raw = new byte[info.ByteSize];
        if (_bytes != null)
        {
            _bytes.AsSpan().Slice((int)at, raw.Length).CopyTo(raw);
            return raw;
        }
        try
        {
            using var handle = File.OpenHandle(Path, FileMode.Open, FileAccess.Read, FileShare.Read);
            int got = 0;
            while (got < raw.Length)
            {
                int n = RandomAccess.Read(handle, raw.AsSpan(got), at + got);
                if (n == 0)
                    throw new ModelFormatException(
                        $"{Path}: tensor '{info.Name}' data ends at file offset {at + got}, expected {info.ByteSize} bytes from {at} (was the file truncated after it was opened?)");
                got += n;
            }
        }
        catch (IOException e)
        {
            throw new ModelFormatException($"{Path}: cannot read tensor '{info.Name}' ({e.Message})", e);
        }
        return raw;
    }
}
