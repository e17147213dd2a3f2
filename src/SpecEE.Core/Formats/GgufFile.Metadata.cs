namespace SpecEE.Core.Formats;

/// <summary>Typed metadata access.</summary>
/// <remarks>
/// Get* throws <see cref="ModelFormatException"/> when the key is missing or holds an incompatible type.
/// TryGet* returns false only when the key is missing; a key that exists with an incompatible type still
/// throws, because a wrongly typed value means a corrupt or foreign file, not a default to fall back on.
/// Integer getters accept any integer width (converters differ: u32 vs i32 vs u64) as long as the value fits.
/// </remarks>
public sealed partial class GgufFile
{
    public bool ContainsKey(string key) => _metadata.ContainsKey(key);

    /// <summary>The raw typed value of <paramref name="key"/>; throws naming the file when it is missing.</summary>
    public GgufMetaValue GetValue(string key) => _metadata.TryGetValue(key, out var v)
        ? v : throw new ModelFormatException($"{Path}: metadata key '{key}' is missing");

    public string GetString(string key) => AsString(key, GetValue(key));
    public uint GetUInt32(string key) => (uint)AsInteger(key, GetValue(key), 0, uint.MaxValue, "uint32");
    public int GetInt32(string key) => (int)AsInteger(key, GetValue(key), int.MinValue, int.MaxValue, "int32");
    public long GetInt64(string key) => AsInteger(key, GetValue(key), long.MinValue, long.MaxValue, "int64");
    public float GetFloat(string key) => AsFloat(key, GetValue(key));
    public bool GetBool(string key) => AsBool(key, GetValue(key));
    public string[] GetStringArray(string key) => AsStringArray(key, GetValue(key));
    public float[] GetFloatArray(string key) => AsFloatArray(key, GetValue(key));
    public int[] GetInt32Array(string key) => AsInt32Array(key, GetValue(key));

    public bool TryGetString(string key, out string value) => TryGet(key, AsString, out value!);
    public bool TryGetUInt32(string key, out uint value) =>
        TryGet(key, (k, v) => (uint)AsInteger(k, v, 0, uint.MaxValue, "uint32"), out value);
    public bool TryGetInt32(string key, out int value) =>
        TryGet(key, (k, v) => (int)AsInteger(k, v, int.MinValue, int.MaxValue, "int32"), out value);
    public bool TryGetInt64(string key, out long value) =>
        TryGet(key, (k, v) => AsInteger(k, v, long.MinValue, long.MaxValue, "int64"), out value);
    public bool TryGetFloat(string key, out float value) => TryGet(key, AsFloat, out value);
    public bool TryGetBool(string key, out bool value) => TryGet(key, AsBool, out value);
    public bool TryGetStringArray(string key, out string[] value) => TryGet(key, AsStringArray, out value!);
    public bool TryGetFloatArray(string key, out float[] value) => TryGet(key, AsFloatArray, out value!);
    public bool TryGetInt32Array(string key, out int[] value) => TryGet(key, AsInt32Array, out value!);

    private bool TryGet<T>(string key, Func<string, GgufMetaValue, T> convert, out T? value)
    {
        if (!_metadata.TryGetValue(key, out var v)) { value = default; return false; }
        value = convert(key, v);
        return true;
    }

    private ModelFormatException WrongType(string key, GgufMetaValue v, string expected) =>
        new($"{Path}: metadata key '{key}' is {Describe(v)}, expected {expected}");

    private static string Describe(GgufMetaValue v) => v.Value is GgufArray a ? a.ToString() : $"{v.Type} {v.Value}";

    private string AsString(string key, GgufMetaValue v) => v.Value as string ?? throw WrongType(key, v, "a string");

    private bool AsBool(string key, GgufMetaValue v) => v.Value is bool b ? b : throw WrongType(key, v, "a bool");

    private long AsInteger(string key, GgufMetaValue v, long min, long max, string expected)
    {
        // Integers of every width funnel through Int128 so that u64 values above long.MaxValue compare correctly.
        Int128? x = ToInteger(v.Value);
        if (x is null) throw WrongType(key, v, $"an integer ({expected})");
        if (x < min || x > max) throw new ModelFormatException($"{Path}: metadata key '{key}' is {x}, which does not fit in {expected}");
        return (long)x.Value;
    }

    private static Int128? ToInteger(object o) => o switch
    {
        byte x => x, sbyte x => x, ushort x => x, short x => x, uint x => x, int x => x, ulong x => x, long x => x,
        _ => null,
    };

    private float AsFloat(string key, GgufMetaValue v) => v.Value switch
    {
        float f => f,
        double d => (float)d,
        _ when ToInteger(v.Value) is { } i => (float)i,
        _ => throw WrongType(key, v, "a number (float32)"),
    };

    private GgufArray AsArray(string key, GgufMetaValue v, string expected) =>
        v.Value as GgufArray ?? throw WrongType(key, v, expected);

    private string[] AsStringArray(string key, GgufMetaValue v) =>
        AsArray(key, v, "an array of strings").Items as string[] ?? throw WrongType(key, v, "an array of strings");

    private float[] AsFloatArray(string key, GgufMetaValue v) => AsArray(key, v, "an array of float32").Items switch
    {
        float[] f => (float[])f.Clone(),
        double[] d => Array.ConvertAll(d, x => (float)x),
        _ => throw WrongType(key, v, "an array of float32"),
    };

    private int[] AsInt32Array(string key, GgufMetaValue v)
    {
        var items = AsArray(key, v, "an array of integers").Items;
        if (items is int[] ints) return (int[])ints.Clone();
        var result = new int[items.Length];
        for (int i = 0; i < result.Length; i++)
        {
            object o = items.GetValue(i)!;
            Int128? x = ToInteger(o);
            if (x is null) throw WrongType(key, v, "an array of integers");
            if (x < int.MinValue || x > int.MaxValue)
                throw new ModelFormatException($"{Path}: metadata key '{key}' element {i} is {x}, which does not fit in int32");
            result[i] = (int)x.Value;
        }
        return result;
    }
}
