namespace SpecEE.Core.Formats;

/// <summary>
/// Parses the GGUF header, metadata and tensor infos (spec: ggml docs/gguf.md). Layout, all little-endian:
/// u32 magic "GGUF", u32 version (2 or 3), u64 tensor_count, u64 kv_count;
/// kv_count × { gguf_string key, u32 value type, value };
/// tensor_count × { gguf_string name, u32 n_dims, u64 ne[n_dims], u32 ggml_type, u64 offset };
/// padding to general.alignment (default 32); the data section; tensor offsets are relative to its start.
/// </summary>
internal static class GgufParser
{
    public const uint Magic = 0x46554747; // "GGUF" read as a little-endian u32
    public const uint DefaultAlignment = 32;
    private const int MaxArrayNesting = 8;
    private const int MaxDims = 4; // GGML_MAX_DIMS

    internal sealed record Parsed(
        uint Version,
        Dictionary<string, GgufMetaValue> Metadata,
        List<string> KeyOrder,
        Dictionary<string, GgufTensorInfo> Tensors,
        List<string> TensorOrder,
        uint Alignment,
        long DataStart,
        long FileLength);

    public static Parsed Parse(Stream stream, string path)
    {
        var c = new GgufCursor(stream, path);
        if (c.Length < 4)
            throw new ModelFormatException($"{path}: not a GGUF file: {c.Length} bytes, too short for the \"GGUF\" magic");
        uint magic = c.U32("magic");
        if (magic != Magic)
            throw new ModelFormatException($"{path}: not a GGUF file: the first 4 bytes are {Hex(magic)}, expected \"GGUF\" (47 47 55 46)");
        uint version = c.U32("version");
        if (version is 1)
            throw new ModelFormatException($"{path}: GGUF version 1 (32-bit counts, pre-release 2023 format) is not supported; convert the model again with a current llama.cpp (version 2 or 3)");
        if (version is not (2 or 3))
        {
            bool bigEndian = System.Buffers.Binary.BinaryPrimitives.ReverseEndianness(version) is 2 or 3;
            throw new ModelFormatException(bigEndian
                ? $"{path}: big-endian GGUF file (version bytes {Hex(version)}) is not supported; expected a little-endian GGUF version 2 or 3"
                : $"{path}: unsupported GGUF version {version}, expected 2 or 3");
        }

        // Minimal encodings bound the counts: a KV is at least key length (8) + type (4) + a 1-byte value;
        // a tensor info at least name length (8) + n_dims (4) + type (4) + offset (8).
        long tensorCount = c.Count("tensor_count", 24);
        long kvCount = c.Count("metadata kv_count", 13);

        var metadata = new Dictionary<string, GgufMetaValue>((int)Math.Min(kvCount, 4096), StringComparer.Ordinal);
        var keyOrder = new List<string>();
        for (long i = 0; i < kvCount; i++)
        {
            string key = c.String($"metadata key #{i}");
            var type = (GgufValueType)c.U32($"type of metadata '{key}'");
            object value = ReadValue(c, type, $"metadata '{key}'", 0);
            if (!metadata.TryAdd(key, new GgufMetaValue(type, value)))
                throw new ModelFormatException($"{path}: corrupt GGUF file: metadata key '{key}' appears twice");
            keyOrder.Add(key);
        }

        uint alignment = DefaultAlignment;
        if (metadata.TryGetValue("general.alignment", out var alignValue))
        {
            ulong a = alignValue.Value switch
            {
                uint u => u, int s when s > 0 => (ulong)s, ulong ul => ul, long l when l > 0 => (ulong)l,
                ushort us => us, byte b => b, _ => 0,
            };
            if (a == 0 || a > 1 << 20 || (a & (a - 1)) != 0)
                throw new ModelFormatException($"{path}: general.alignment is {alignValue.Value} ({alignValue.Type}), expected a power of two up to 2^20 stored as uint32");
            alignment = (uint)a;
        }

        var infos = new List<(string Name, GgmlType Type, long[] Dims, ulong Offset)>((int)Math.Min(tensorCount, 65536));
        for (long i = 0; i < tensorCount; i++)
        {
            string name = c.String($"name of tensor info #{i}");
            uint nDims = c.U32($"n_dims of tensor '{name}'");
            if (nDims > MaxDims)
                throw new ModelFormatException($"{path}: corrupt GGUF file: tensor '{name}' has n_dims {nDims}, expected 1..{MaxDims}");
            var dims = new long[nDims];
            for (int d = 0; d < nDims; d++)
            {
                ulong ne = c.U64($"ne[{d}] of tensor '{name}'");
                if (ne > long.MaxValue) throw new ModelFormatException($"{path}: corrupt GGUF file: tensor '{name}' has ne[{d}] = {ne}");
                dims[d] = (long)ne;
            }
            var type = (GgmlType)c.U32($"type of tensor '{name}'");
            ulong offset = c.U64($"data offset of tensor '{name}'");
            infos.Add((name, type, dims, offset));
        }

        long dataStart = AlignUp(c.Position, alignment);
        // A file with no tensor data (a vocab-only GGUF) may end right after the infos, without padding.
        long dataLength = Math.Max(0, c.Length - dataStart);
        var tensors = new Dictionary<string, GgufTensorInfo>(infos.Count, StringComparer.Ordinal);
        var tensorOrder = new List<string>(infos.Count);
        foreach (var (name, type, dims, offset) in infos)
        {
            var info = CheckTensor(path, name, type, dims, offset, alignment, dataStart, dataLength);
            if (!tensors.TryAdd(name, info))
                throw new ModelFormatException($"{path}: corrupt GGUF file: tensor '{name}' appears twice");
            tensorOrder.Add(name);
        }
        return new Parsed(version, metadata, keyOrder, tensors, tensorOrder, alignment, dataStart, c.Length);
    }

    private static GgufTensorInfo CheckTensor(string path, string name, GgmlType type, long[] dims, ulong offset,
        uint alignment, long dataStart, long dataLength)
    {
        string shape = "[" + string.Join(", ", dims.Reverse()) + "]";
        var geometry = GgmlTypeTraits.Geometry(type) ?? throw new ModelFormatException(
            $"{path}: tensor '{name}' has unknown ggml type {(uint)type} (a newer llama.cpp type, or a corrupt file)");
        long elements = 1;
        foreach (long ne in dims)
        {
            if (ne == 0 || (elements = SafeMul(elements, ne)) < 0)
                throw new ModelFormatException($"{path}: corrupt GGUF file: tensor '{name}' has shape {shape} (ggml ne order reversed), a zero or overflowing dimension");
        }
        long ne0 = dims.Length > 0 ? dims[0] : 1;
        if (ne0 % geometry.BlockElems != 0)
            throw new ModelFormatException($"{path}: tensor '{name}' {GgmlTypeTraits.Name(type)}{shape}: row length {ne0} is not a multiple of the block size {geometry.BlockElems}");
        long bytes = SafeMul(elements / geometry.BlockElems, geometry.BlockBytes);
        if (offset % alignment != 0)
            throw new ModelFormatException($"{path}: corrupt GGUF file: tensor '{name}' data offset {offset} is not a multiple of the alignment {alignment}");
        if (bytes < 0 || offset > (ulong)dataLength || (ulong)bytes > (ulong)dataLength - offset)
            throw new ModelFormatException(
                $"{path}: truncated or corrupt GGUF file: tensor '{name}' {GgmlTypeTraits.Name(type)}{shape} needs {(bytes < 0 ? "too many" : bytes.ToString())} bytes " +
                $"at data offset {offset}, but the data section (from file offset {dataStart}) holds only {dataLength} bytes");
        return new GgufTensorInfo(name, type, dims, (long)offset, bytes);
    }

    private static object ReadValue(GgufCursor c, GgufValueType type, string what, int depth) => type switch
    {
        GgufValueType.UInt8 => c.U8(what),
        GgufValueType.Int8 => (sbyte)c.U8(what),
        GgufValueType.UInt16 => c.U16(what),
        GgufValueType.Int16 => (short)c.U16(what),
        GgufValueType.UInt32 => c.U32(what),
        GgufValueType.Int32 => (int)c.U32(what),
        GgufValueType.Float32 => BitConverter.Int32BitsToSingle((int)c.U32(what)),
        GgufValueType.Bool => ReadBool(c, what),
        GgufValueType.String => c.String(what),
        GgufValueType.UInt64 => c.U64(what),
        GgufValueType.Int64 => (long)c.U64(what),
        GgufValueType.Float64 => BitConverter.Int64BitsToDouble((long)c.U64(what)),
        GgufValueType.Array => ReadArray(c, what, depth),
        _ => throw new ModelFormatException($"{c.Path}: corrupt GGUF file: {what} has unknown value type {(uint)type} at offset {c.Position - 4}"),
    };

    private static bool ReadBool(GgufCursor c, string what, long index = -1)
    {
        byte b = c.U8(what, index);
        if (b > 1) throw new ModelFormatException($"{c.Path}: corrupt GGUF file: {GgufCursor.Label(what, index)} is a bool with byte value {b}, expected 0 or 1");
        return b == 1;
    }

    private static GgufArray ReadArray(GgufCursor c, string what, int depth)
    {
        if (depth >= MaxArrayNesting)
            throw new ModelFormatException($"{c.Path}: corrupt GGUF file: {what} nests arrays deeper than {MaxArrayNesting} levels");
        var elementType = (GgufValueType)c.U32($"element type of {what}");
        int size = ScalarSize(elementType);
        // Strings need at least their 8-byte length, nested arrays their 12-byte header.
        long minEach = elementType switch { GgufValueType.String => 8, GgufValueType.Array => 12, _ => size };
        if (minEach == 0)
            throw new ModelFormatException($"{c.Path}: corrupt GGUF file: {what} has unknown element type {(uint)elementType}");
        long n = c.Count($"length of {what}", minEach);
        if (n > Array.MaxLength)
            throw new ModelFormatException($"{c.Path}: {what} has {n} elements, more than a .NET array can hold");
        int count = (int)n;
        Array items = elementType switch
        {
            GgufValueType.UInt8 => Fill(new byte[count], i => c.U8(what)),
            GgufValueType.Int8 => Fill(new sbyte[count], i => (sbyte)c.U8(what)),
            GgufValueType.UInt16 => Fill(new ushort[count], i => c.U16(what)),
            GgufValueType.Int16 => Fill(new short[count], i => (short)c.U16(what)),
            GgufValueType.UInt32 => Fill(new uint[count], i => c.U32(what)),
            GgufValueType.Int32 => Fill(new int[count], i => (int)c.U32(what)),
            GgufValueType.Float32 => Fill(new float[count], i => BitConverter.Int32BitsToSingle((int)c.U32(what))),
            GgufValueType.Bool => Fill(new bool[count], i => ReadBool(c, what, i)),
            GgufValueType.String => Fill(new string[count], i => c.String(what, i)),
            GgufValueType.UInt64 => Fill(new ulong[count], i => c.U64(what)),
            GgufValueType.Int64 => Fill(new long[count], i => (long)c.U64(what)),
            GgufValueType.Float64 => Fill(new double[count], i => BitConverter.Int64BitsToDouble((long)c.U64(what))),
            GgufValueType.Array => Fill(new GgufArray[count], i => ReadArray(c, $"{what}[{i}]", depth + 1)),
            _ => throw new InvalidOperationException("unreachable: element type checked above"),
        };
        return new GgufArray(elementType, items);
    }

    private static T[] Fill<T>(T[] a, Func<int, T> next)
    {
        for (int i = 0; i < a.Length; i++) a[i] = next(i);
        return a;
    }

    /// <summary>Byte size of a scalar value type; 0 for string, array and unknown tags.</summary>
    internal static int ScalarSize(GgufValueType t) => t switch
    {
        GgufValueType.UInt8 or GgufValueType.Int8 or GgufValueType.Bool => 1,
        GgufValueType.UInt16 or GgufValueType.Int16 => 2,
        GgufValueType.UInt32 or GgufValueType.Int32 or GgufValueType.Float32 => 4,
        GgufValueType.UInt64 or GgufValueType.Int64 or GgufValueType.Float64 => 8,
        _ => 0,
    };

    private static long AlignUp(long x, uint alignment) => (x + alignment - 1) / alignment * alignment;

    /// <summary>a·b, or −1 when it overflows a long.</summary>
    private static long SafeMul(long a, long b)
    {
        try { return checked(a * b); }
        catch (OverflowException) { return -1; }
    }

    private static string Hex(uint v) => string.Join(" ", BitConverter.GetBytes(v).Select(b => b.ToString("x2")));
}

/// <summary>A typed metadata value: the GGUF type tag and the decoded .NET value (see <see cref="GgufArray"/> for arrays).</summary>
public sealed record GgufMetaValue(GgufValueType Type, object Value);
