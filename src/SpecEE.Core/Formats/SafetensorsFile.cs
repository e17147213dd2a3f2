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
/// <remarks>
/// <see cref="Open"/> reads only the header; <see cref="ReadF32"/> then reads one tensor at a time from the file,
/// straight into the result array. So files of any size work (a 7B shard is ~10 GB, over the 2 GiB of one
/// byte[]), memory peaks at the fp32 weights rather than file + weights, and no handle stays open between calls.
/// </remarks>
public sealed class SafetensorsFile
{
    /// <summary>The format's own limit on the JSON header (safetensors rejects larger headers as a DoS guard).</summary>
    private const ulong MaxHeaderBytes = 100_000_000;

    private readonly byte[]? _bytes; // whole file when built by Parse; null when Open reads tensors from disk
    private readonly long _fileLength;
    private readonly long _dataStart;
    private readonly Dictionary<string, SafetensorInfo> _tensors;

    public string Path { get; }
    public IReadOnlyDictionary<string, string> Metadata { get; }
    public IReadOnlyCollection<string> Names => _tensors.Keys;

    private SafetensorsFile(string path, byte[]? bytes, long fileLength, long dataStart,
        Dictionary<string, SafetensorInfo> tensors, Dictionary<string, string> metadata)
    {
        Path = path; _bytes = bytes; _fileLength = fileLength; _dataStart = dataStart; _tensors = tensors; Metadata = metadata;
    }

    /// <summary>Reads and checks the header of the file at <paramref name="path"/>; tensor data is read on demand.</summary>
    public static SafetensorsFile Open(string path)
    {
        if (!File.Exists(path)) throw new ModelFormatException($"{path}: file not found");
        try
        {
            using var f = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1);
            long length = f.Length;
            Span<byte> prefix = stackalloc byte[8];
            int got = f.ReadAtLeast(prefix, 8, throwOnEndOfStream: false);
            ulong headerLen = CheckHeaderLength(path, prefix[..got], length);
            var header = new byte[headerLen];
            f.ReadExactly(header);
            var (tensors, metadata) = ParseHeader(path, header, length - 8 - (long)headerLen);
            return new SafetensorsFile(path, null, length, 8 + (long)headerLen, tensors, metadata);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ModelFormatException($"{path}: cannot read ({e.Message})", e);
        }
    }

    /// <summary>Parses a safetensors file held in memory; <paramref name="path"/> only names it in errors.</summary>
    public static SafetensorsFile Parse(string path, byte[] bytes)
    {
        ulong headerLen = CheckHeaderLength(path, bytes.AsSpan(0, Math.Min(8, bytes.Length)), bytes.Length);
        var (tensors, metadata) = ParseHeader(path, bytes.AsMemory(8, (int)headerLen), bytes.Length - 8 - (long)headerLen);
        return new SafetensorsFile(path, bytes, bytes.Length, 8 + (long)headerLen, tensors, metadata);
    }

    private static ulong CheckHeaderLength(string path, ReadOnlySpan<byte> prefix, long fileLength)
    {
        if (prefix.Length < 8) throw new ModelFormatException($"{path}: not a safetensors file (only {fileLength} bytes)");
        ulong headerLen = BinaryPrimitives.ReadUInt64LittleEndian(prefix);
        if (headerLen < 2 || headerLen > (ulong)(fileLength - 8))
            throw new ModelFormatException($"{path}: safetensors header length {headerLen} does not fit in a file of {fileLength} bytes (truncated or not safetensors)");
        if (headerLen > MaxHeaderBytes)
            throw new ModelFormatException($"{path}: safetensors header length {headerLen} exceeds the format's limit of {MaxHeaderBytes} bytes");
        return headerLen;
    }

    private static (Dictionary<string, SafetensorInfo>, Dictionary<string, string>) ParseHeader(
        string path, ReadOnlyMemory<byte> json, long dataLen)
    {
        var tensors = new Dictionary<string, SafetensorInfo>(StringComparer.Ordinal);
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        try
        {
            using var doc = JsonDocument.Parse(json);
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
                if (tensors.ContainsKey(prop.Name))
                    throw new ModelFormatException($"{path}: safetensors header lists tensor '{prop.Name}' twice");
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
        return (tensors, metadata);
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
        if (info.ElementCount > Array.MaxLength)
            throw new ModelFormatException($"{Path}: tensor '{name}' {info.ShapeText} has more elements than one array can hold");
        var dst = new float[info.ElementCount];
        if (info.DType == TensorDType.F32)
        {
            ReadBytes(info, MemoryMarshal.AsBytes(dst.AsSpan())); // little-endian fp32 is the in-memory layout
            return dst;
        }
        var bits = new ushort[info.ElementCount];
        ReadBytes(info, MemoryMarshal.AsBytes(bits.AsSpan()));
        if (info.DType == TensorDType.F16)
            for (int i = 0; i < dst.Length; i++) dst[i] = (float)BitConverter.UInt16BitsToHalf(bits[i]);
        else // BF16 is the top half of an fp32
            for (int i = 0; i < dst.Length; i++) dst[i] = BitConverter.Int32BitsToSingle(bits[i] << 16);
        return dst;
    }

    /// <summary>The stored bytes of one tensor, from memory or (for <see cref="Open"/>) from the file, which must not have changed.</summary>
    private void ReadBytes(SafetensorInfo info, Span<byte> dst)
    {
        long offset = _dataStart + info.Begin;
        if (_bytes != null)
        {
            _bytes.AsSpan((int)offset, dst.Length).CopyTo(dst);
            return;
        }
        try
        {
            using var handle = File.OpenHandle(Path, FileMode.Open, FileAccess.Read, FileShare.Read);
            if (RandomAccess.GetLength(handle) != _fileLength)
                throw new ModelFormatException($"{Path}: file changed size since it was opened ({_fileLength} bytes then, {RandomAccess.GetLength(handle)} now)");
            int done = 0;
            while (done < dst.Length)
            {
                int n = RandomAccess.Read(handle, dst[done..], offset + done);
                if (n == 0) throw new ModelFormatException($"{Path}: tensor '{info.Name}' ends early: the file was truncated after it was opened");
                done += n;
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ModelFormatException($"{Path}: cannot read tensor '{info.Name}' ({e.Message})", e);
        }
    }
}
