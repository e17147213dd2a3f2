using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;

namespace SpecEE.Core.Formats;

/// <summary>
/// Writes safetensors files: u64 little-endian header length N, N bytes of JSON, then the tensor data.
/// The JSON holds <c>__metadata__</c> (string → string) first, then one entry per tensor in ordinal name order;
/// data is laid out in that same order, back to back. The header is padded with spaces so the data starts at
/// an 8-byte aligned offset (what the reference implementation does, and what lets readers map the data).
/// The file is written to a temporary name beside the target and renamed, so a crash never leaves half a file.
/// </summary>
public sealed class SafetensorsWriter
{
    private readonly SortedDictionary<string, (TensorDType DType, long[] Shape, byte[] Data)> _tensors = new(StringComparer.Ordinal);

    /// <summary>String metadata stored under <c>__metadata__</c> (omitted when empty).</summary>
    public Dictionary<string, string> Metadata { get; } = new(StringComparer.Ordinal);

    /// <summary>Adds an F32 tensor (data copied). The element count must equal the product of the shape.</summary>
    public void AddF32(string name, ReadOnlySpan<float> data, params long[] shape) =>
        Add(name, TensorDType.F32, shape, MemoryMarshal.AsBytes(data).ToArray(), data.Length);

    /// <summary>Adds an F16 tensor (data copied).</summary>
    public void AddF16(string name, ReadOnlySpan<Half> data, params long[] shape) =>
        Add(name, TensorDType.F16, shape, MemoryMarshal.AsBytes(data).ToArray(), data.Length);

    private void Add(string name, TensorDType dtype, long[] shape, byte[] bytes, int count)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        if (name == "__metadata__") throw new ArgumentException("'__metadata__' is reserved in safetensors", nameof(name));
        if (_tensors.ContainsKey(name)) throw new ArgumentException($"tensor '{name}' was already added", nameof(name));
        if (shape.Any(d => d < 0) || shape.Aggregate(1L, (a, b) => a * b) != count)
            throw new ArgumentException($"tensor '{name}': shape [{string.Join(", ", shape)}] does not hold {count} elements");
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("safetensors data is little-endian");
        _tensors.Add(name, (dtype, (long[])shape.Clone(), bytes));
    }

    /// <summary>The complete file contents.</summary>
    public byte[] ToBytes()
    {
        byte[] header = BuildHeader();
        long total = 8 + header.Length + _tensors.Values.Sum(t => (long)t.Data.Length);
        var bytes = new byte[total];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)header.Length);
        header.CopyTo(bytes, 8);
        long at = 8 + header.Length;
        foreach (var t in _tensors.Values)
        {
            t.Data.CopyTo(bytes, at);
            at += t.Data.Length;
        }
        return bytes;
    }

    /// <summary>Writes the file (to <c>path.tmp</c>, then renamed over <paramref name="path"/>).</summary>
    public void Save(string path)
    {
        string full = System.IO.Path.GetFullPath(path);
        string tmp = full + ".tmp";
        File.WriteAllBytes(tmp, ToBytes());
        File.Move(tmp, full, overwrite: true);
    }

    private byte[] BuildHeader()
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms))
        {
            w.WriteStartObject();
            if (Metadata.Count > 0)
            {
                w.WriteStartObject("__metadata__");
                foreach (var (k, v) in Metadata.OrderBy(kv => kv.Key, StringComparer.Ordinal)) w.WriteString(k, v);
                w.WriteEndObject();
            }
            long offset = 0;
            foreach (var (name, t) in _tensors)
            {
                w.WriteStartObject(name);
                w.WriteString("dtype", t.DType.ToString());
                w.WriteStartArray("shape");
                foreach (long d in t.Shape) w.WriteNumberValue(d);
                w.WriteEndArray();
                w.WriteStartArray("data_offsets");
                w.WriteNumberValue(offset);
                w.WriteNumberValue(offset + t.Data.Length);
                w.WriteEndArray();
                w.WriteEndObject();
                offset += t.Data.Length;
            }
            w.WriteEndObject();
        }
        int len = (int)ms.Length;
        int padded = (len + 7) & ~7; // 8 + padded is a multiple of 8
        var header = new byte[padded];
        ms.GetBuffer().AsSpan(0, len).CopyTo(header);
        header.AsSpan(len).Fill((byte)' ');
        return header;
    }
}
