namespace SpecEE.Core.Formats;

/// <summary>Type tag of a GGUF metadata value (the <c>gguf_type</c> enum of the GGUF spec, stored as u32).</summary>
public enum GgufValueType : uint
{
    UInt8 = 0, Int8 = 1, UInt16 = 2, Int16 = 3, UInt32 = 4, Int32 = 5, Float32 = 6, Bool = 7,
    String = 8, Array = 9, UInt64 = 10, Int64 = 11, Float64 = 12,
}

/// <summary>
/// Element type of a GGUF tensor (the <c>ggml_type</c> enum). Only some are dequantised by
/// <see cref="GgufFile.ReadF32"/>; the rest are named so that errors and tools can say what a file holds.
/// </summary>
public enum GgmlType : uint
{
    F32 = 0, F16 = 1, Q4_0 = 2, Q4_1 = 3, Q5_0 = 6, Q5_1 = 7, Q8_0 = 8, Q8_1 = 9,
    Q2_K = 10, Q3_K = 11, Q4_K = 12, Q5_K = 13, Q6_K = 14, Q8_K = 15,
    IQ2_XXS = 16, IQ2_XS = 17, IQ3_XXS = 18, IQ1_S = 19, IQ4_NL = 20, IQ3_S = 21, IQ2_S = 22, IQ4_XS = 23,
    I8 = 24, I16 = 25, I32 = 26, I64 = 27, F64 = 28, IQ1_M = 29, BF16 = 30,
    TQ1_0 = 34, TQ2_0 = 35, MXFP4 = 39,
}

/// <summary>
/// An array value from GGUF metadata. <see cref="Items"/> is a typed .NET array matching
/// <see cref="ElementType"/>: byte[], sbyte[], ushort[], short[], uint[], int[], float[], bool[],
/// string[], ulong[], long[], double[], or <see cref="GgufArray"/>[] for nested arrays.
/// </summary>
public sealed class GgufArray(GgufValueType elementType, Array items)
{
    public GgufValueType ElementType { get; } = elementType;
    public Array Items { get; } = items;
    public int Length => Items.Length;
    public override string ToString() => $"array<{ElementType}>[{Length}]";
}

/// <summary>
/// One tensor of a GGUF file. <see cref="Dims"/> is in ggml order (ne[0] = innermost, contiguous
/// dimension); <see cref="Shape"/> is the same reversed, i.e. row-major outermost-first like safetensors,
/// so a llama.cpp matrix with ne = [in, out] has Shape [out, in]. <see cref="Offset"/> is relative to the
/// start of the data section.
/// </summary>
public sealed record GgufTensorInfo(string Name, GgmlType Type, long[] Dims, long Offset, long ByteSize)
{
    public long ElementCount => Dims.Aggregate(1L, (a, b) => a * b);
    /// <summary>Row-major shape, outermost dimension first (the reverse of <see cref="Dims"/>).</summary>
    public long[] Shape => Dims.Reverse().ToArray();
    public string ShapeText => "[" + string.Join(", ", Shape) + "]";
}

/// <summary>Block geometry of ggml tensor types: elements per block and bytes per block.</summary>
internal static class GgmlTypeTraits
{
    /// <summary>(elements per block, bytes per block), or null for a type id this reader does not know.</summary>
    public static (int BlockElems, int BlockBytes)? Geometry(GgmlType t) => t switch
    {
        GgmlType.F32 => (1, 4),
        GgmlType.F16 => (1, 2),
        GgmlType.BF16 => (1, 2),
        GgmlType.F64 => (1, 8),
        GgmlType.I8 => (1, 1),
        GgmlType.I16 => (1, 2),
        GgmlType.I32 => (1, 4),
        GgmlType.I64 => (1, 8),
        GgmlType.Q4_0 => (32, 2 + 16),         // f16 d, 32 nibbles
        GgmlType.Q4_1 => (32, 2 + 2 + 16),     // f16 d, f16 m, 32 nibbles
        GgmlType.Q5_0 => (32, 2 + 4 + 16),     // f16 d, 32 high bits, 32 nibbles
        GgmlType.Q5_1 => (32, 2 + 2 + 4 + 16),
        GgmlType.Q8_0 => (32, 2 + 32),         // f16 d, 32 int8; value = d·q
        GgmlType.Q8_1 => (32, 2 + 2 + 32),     // f16 d, f16 s, 32 int8
        GgmlType.Q2_K => (256, 84),
        GgmlType.Q3_K => (256, 110),
        GgmlType.Q4_K => (256, 144),
        GgmlType.Q5_K => (256, 176),
        GgmlType.Q6_K => (256, 210),
        GgmlType.Q8_K => (256, 292),
        GgmlType.IQ2_XXS => (256, 66),
        GgmlType.IQ2_XS => (256, 74),
        GgmlType.IQ3_XXS => (256, 98),
        GgmlType.IQ1_S => (256, 50),
        GgmlType.IQ4_NL => (32, 18),
        GgmlType.IQ3_S => (256, 110),
        GgmlType.IQ2_S => (256, 82),
        GgmlType.IQ4_XS => (256, 136),
        GgmlType.IQ1_M => (256, 56),
        GgmlType.TQ1_0 => (256, 54),
        GgmlType.TQ2_0 => (256, 66),
        GgmlType.MXFP4 => (32, 17),
        _ => null,
    };

    public static string Name(GgmlType t) => Enum.IsDefined(t) ? t.ToString() : $"ggml type {(uint)t}";
}
