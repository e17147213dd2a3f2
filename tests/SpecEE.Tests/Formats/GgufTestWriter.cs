using System.Text;
using SpecEE.Core.Formats;

namespace SpecEE.Tests.Formats;

/// <summary>
/// Minimal GGUF writer for hand-built test files, written from the spec independently of the reader:
/// "GGUF", u32 version, u64 tensor_count, u64 kv_count, KVs, tensor infos (ne in ggml order, innermost
/// first), zero padding to the alignment, then each tensor's bytes at an aligned offset.
/// </summary>
internal sealed class GgufTestWriter
{
    private readonly List<(string Key, GgufValueType Type, object Value)> _kvs = [];
    private readonly List<(string Name, long[] Ne, uint Type, byte[] Data)> _tensors = [];

    public uint Version { get; set; } = 3;
    public int Alignment { get; set; } = 32;

    /// <summary>Adds a KV; arrays are (elementType, object[] items), nested arrays are such tuples inside.</summary>
    public GgufTestWriter Kv(string key, GgufValueType type, object value)
    {
        _kvs.Add((key, type, value));
        return this;
    }

    public GgufTestWriter Array(string key, GgufValueType elementType, params object[] items) =>
        Kv(key, GgufValueType.Array, (elementType, items));

    /// <summary>Adds a tensor given its ggml ne (innermost first), ggml type id and raw bytes.</summary>
    public GgufTestWriter Tensor(string name, long[] ne, uint ggmlType, byte[] data)
    {
        _tensors.Add((name, ne, ggmlType, data));
        return this;
    }

    public GgufTestWriter TensorF32(string name, long[] ne, float[] values) =>
        Tensor(name, ne, 0, values.SelectMany(BitConverter.GetBytes).ToArray());

    public byte[] ToBytes()
    {
        using var ms = new MemoryStream();
        using var w = new BinaryWriter(ms);
        w.Write("GGUF"u8);
        w.Write(Version);
        w.Write((ulong)_tensors.Count);
        w.Write((ulong)_kvs.Count);
        foreach (var (key, type, value) in _kvs)
        {
            WriteString(w, key);
            w.Write((uint)type);
            WriteValue(w, type, value);
        }
        long offset = 0;
        var offsets = new List<long>();
        foreach (var (name, ne, type, data) in _tensors)
        {
            WriteString(w, name);
            w.Write((uint)ne.Length);
            foreach (long n in ne) w.Write((ulong)n);
            w.Write(type);
            w.Write((ulong)offset);
            offsets.Add(offset);
            offset = Align(offset + data.Length);
        }
        Pad(w);
        long dataStart = ms.Position;
        for (int i = 0; i < _tensors.Count; i++)
        {
            while (ms.Position < dataStart + offsets[i]) w.Write((byte)0);
            w.Write(_tensors[i].Data);
        }
        if (_tensors.Count > 0) Pad(w);
        w.Flush();
        return ms.ToArray();
    }

    private long Align(long x) => (x + Alignment - 1) / Alignment * Alignment;

    private void Pad(BinaryWriter w)
    {
        while (w.BaseStream.Position % Alignment != 0) w.Write((byte)0);
    }

    private static void WriteString(BinaryWriter w, string s)
    {
        byte[] b = Encoding.UTF8.GetBytes(s);
        w.Write((ulong)b.Length);
        w.Write(b);
    }

    private static void WriteValue(BinaryWriter w, GgufValueType type, object v)
    {
        switch (type)
        {
            case GgufValueType.UInt8: w.Write(Convert.ToByte(v)); break;
            case GgufValueType.Int8: w.Write(Convert.ToSByte(v)); break;
            case GgufValueType.UInt16: w.Write(Convert.ToUInt16(v)); break;
            case GgufValueType.Int16: w.Write(Convert.ToInt16(v)); break;
            case GgufValueType.UInt32: w.Write(Convert.ToUInt32(v)); break;
            case GgufValueType.Int32: w.Write(Convert.ToInt32(v)); break;
            case GgufValueType.Float32: w.Write(Convert.ToSingle(v)); break;
            case GgufValueType.Bool: w.Write(v is bool b ? (byte)(b ? 1 : 0) : Convert.ToByte(v)); break;
            case GgufValueType.String: WriteString(w, (string)v); break;
            case GgufValueType.UInt64: w.Write(Convert.ToUInt64(v)); break;
            case GgufValueType.Int64: w.Write(Convert.ToInt64(v)); break;
            case GgufValueType.Float64: w.Write(Convert.ToDouble(v)); break;
            case GgufValueType.Array:
                var (elementType, items) = ((GgufValueType, object[]))v;
                w.Write((uint)elementType);
                w.Write((ulong)items.Length);
                foreach (var item in items) WriteValue(w, elementType, item);
                break;
            default: // raw tag for bad-input tests: write the value as a u32
                w.Write(Convert.ToUInt32(v));
                break;
        }
    }
}
