using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text.Json;

namespace SpecEE.Core.Formats;

/// <summary>Element type of a stored tensor.</summary>
public enum TensorDType { F32, F16, BF16 }

/// <summary>Name, type, shape and byte range of one tensor inside a safetensors file.</summary>
public sealed record SafetensorInfo(string Name, TensorDType DType, long[] Shape, long Begin, long End)
{
    public long ElementCount => Shape.Aggregate(1L, (a, b) => a * b);
    public string ShapeText => "[" + string.Join(", ", Shape) + "]";
}

/// <summary>
/// Reader for the safetensors format: u64 little-endian header length N, N bytes of JSON
/// {name: {dtype, shape, data_offsets:[begin,end]}, "__metadata__": {string: string}}, then the data.
/// Every offset, size and shape is checked before any data is used; errors name the file and the tensor.
/// </summary>
public sealed class SafetensorsFile
{
    private readonly byte[] _bytes;
    private readonly long _dataStart;
    private readonly Dictionary<string, SafetensorInfo> _tensors;

    public string Path { get; }
    public IReadOnlyDictionary<string, string> Metadata { get; }
    public IReadOnlyCollection<string> Names => _tensors.Keys;

    private SafetensorsFile(string path, byte[] bytes, long dataStart, Dictionary<string, SafetensorInfo> tensors,
        Dictionary<string, string> metadata)
    {
        Path = path; _bytes = bytes; _dataStart = dataStart; _tensors = tensors; Metadata = metadata;
    }

    public static SafetensorsFile Open(string path)
    {
        if (!File.Exists(path)) throw new ModelFormatException($"{path}: file not found");
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or OutOfMemoryException)
        {
            // Files over 2 GiB land here too (File.ReadAllBytes' limit); they need a memory-mapped reader.
            throw new ModelFormatException($"{path}: cannot read ({e.Message})", e);
        }
        return Parse(path, bytes);
    }

    public static SafetensorsFile Parse(string path, byte[] bytes)
    {
        if (bytes.Length < 8) throw new ModelFormatException($"{path}: not a safetensors file (only {bytes.Length} bytes)");
        ulong headerLen = BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        if (headerLen < 2 || headerLen > (ulong)(bytes.Length - 8))
            throw new ModelFormatException($"{path}: safetensors header length {headerLen} does not fit in a file of {bytes.Length} bytes (truncated or not safetensors)");
        long dataStart = 8 + (long)headerLen;
        long dataLen = bytes.Length - dataStart;
        var tensors = new Dictionary<string, SafetensorInfo>(StringComparer.Ordinal);
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        try
        {
            using var doc = JsonDocument.Parse(bytes.AsMemory(8, (int)headerLen));
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
                throw new ModelFormatException($"{path}: safetensors header is not a JSON object");
            foreach (var prop in doc.RootElement.EnumerateObject())
            {
                if (prop.Name == "__metadata__")
                {
                    foreach (var m in prop.Value.EnumerateObject())
                        metadata[m.Name] = m.Value.ValueKind == JsonValueKind.String ? m.Value.GetString()! : m.Value.GetRawText();
                    continue;
                }
                tensors[prop.Name] = ParseEntry(path, prop.Name, prop.Value, dataLen);
            }
        }
        catch (JsonException e)
        {
            throw new ModelFormatException($"{path}: safetensors header is not valid JSON ({e.Message})", e);
        }
        catch (Exception e) when (e is InvalidOperationException or KeyNotFoundException or FormatException)
        {
            throw new ModelFormatException($"{path}: malformed safetensors header ({e.Message})", e);
        }
        return new SafetensorsFile(path, bytes, dataStart, tensors, metadata);
    }

    private static SafetensorInfo ParseEntry(string path, string name, JsonElement e, long dataLen)
    {
        string dtypeText = e.GetProperty("dtype").GetString() ?? "";
        TensorDType dtype = dtypeText switch
        {
            "F32" => TensorDType.F32, "F16" => TensorDType.F16, "BF16" => TensorDType.BF16,
            _ => throw new ModelFormatException($"{path}: tensor '{name}' has unsupported dtype {dtypeText} (expected F32, F16 or BF16)"),
        };
        long[] shape = e.GetProperty("shape").EnumerateArray().Select(x => x.GetInt64()).ToArray();
        long[] offs = e.GetProperty("data_offsets").EnumerateArray().Select(x => x.GetInt64()).ToArray();
        if (shape.Any(d => d < 0)) throw new ModelFormatException($"{path}: tensor '{name}' has a negative dimension");
        if (offs.Length != 2 || offs[0] < 0 || offs[1] < offs[0] || offs[1] > dataLen)
            throw new ModelFormatException($"{path}: tensor '{name}' data_offsets [{string.Join(", ", offs)}] lie outside the {dataLen} data bytes (truncated file?)");
        // Bound the element count before multiplying, so an absurd shape cannot wrap around to a plausible size.
        long count = 1, rangeBytes = offs[1] - offs[0];
        foreach (long d in shape)
        {
            if (d != 0 && count > rangeBytes / d)
                throw new ModelFormatException($"{path}: tensor '{name}' {dtypeText}[{string.Join(", ", shape)}] holds more elements than its {rangeBytes} data bytes");
            count *= d;
        }
        var info = new SafetensorInfo(name, dtype, shape, offs[0], offs[1]);
        long expectBytes = info.ElementCount * (dtype == TensorDType.F32 ? 4 : 2);
        if (offs[1] - offs[0] != expectBytes)
            throw new ModelFormatException($"{path}: tensor '{name}' {dtypeText}{info.ShapeText} needs {expectBytes} bytes but has {offs[1] - offs[0]}");
        return info;
    }

    public bool Contains(string name) => _tensors.ContainsKey(name);

    public SafetensorInfo Info(string name) => _tensors.TryGetValue(name, out var i)
        ? i : throw new ModelFormatException($"{Path}: tensor '{name}' is missing");

    /// <summary>Reads a tensor as fp32 after checking that its shape equals <paramref name="expectedShape"/>.</summary>
    public float[] ReadF32(string name, params long[] expectedShape)
    {
        var info = Info(name);
        if (!info.Shape.SequenceEqual(expectedShape))
            throw new ModelFormatException($"{Path}: tensor '{name}' has shape {info.ShapeText}, expected [{string.Join(", ", expectedShape)}]");
        var src = _bytes.AsSpan((int)(_dataStart + info.Begin), (int)(info.End - info.Begin));
        var dst = new float[info.ElementCount];
        switch (info.DType)
        {
            case TensorDType.F32:
                MemoryMarshal.Cast<byte, float>(src).CopyTo(dst);
                break;
            case TensorDType.F16:
                var h = MemoryMarshal.Cast<byte, Half>(src);
                for (int i = 0; i < dst.Length; i++) dst[i] = (float)h[i];
                break;
            case TensorDType.BF16:
                var b = MemoryMarshal.Cast<byte, ushort>(src);
                for (int i = 0; i < dst.Length; i++) dst[i] = BitConverter.Int32BitsToSingle(b[i] << 16);
                break;
        }
        return dst;
    }
}
