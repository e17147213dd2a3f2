using System.Buffers.Binary;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;

namespace SpecEE.Core.Formats;

/// <summary>Conversion of stored ggml tensor bytes to fp32.</summary>
internal static class GgufDequant
{
    private const int Q8_0BlockElems = 32;
    private const int Q8_0BlockBytes = 2 + Q8_0BlockElems; // f16 scale d, then 32 int8 quants; value = d·q

    public static bool IsSupported(GgmlType t) => t is GgmlType.F32 or GgmlType.F16 or GgmlType.BF16 or GgmlType.Q8_0;

    /// <summary>Fills <paramref name="dst"/> (element count) from <paramref name="src"/> (the tensor's stored bytes).</summary>
    public static void ToF32(GgmlType type, ReadOnlySpan<byte> src, Span<float> dst)
    {
        switch (type)
        {
            case GgmlType.F32:
                MemoryMarshal.Cast<byte, float>(src).CopyTo(dst);
                break;
            case GgmlType.F16:
                TensorPrimitives.ConvertToSingle(MemoryMarshal.Cast<byte, Half>(src), dst);
                break;
            case GgmlType.BF16:
                // bf16 is the top half of an fp32: shift the 16 bits into place.
                var b = MemoryMarshal.Cast<byte, ushort>(src);
                for (int i = 0; i < dst.Length; i++) dst[i] = BitConverter.Int32BitsToSingle(b[i] << 16);
                break;
            case GgmlType.Q8_0:
                Q8_0(src, dst);
                break;
            default:
                throw new ArgumentException($"no dequantiser for {type}", nameof(type));
        }
    }

    private static void Q8_0(ReadOnlySpan<byte> src, Span<float> dst)
    {
        int blocks = dst.Length / Q8_0BlockElems;
        for (int blk = 0; blk < blocks; blk++)
        {
            var block = src.Slice(blk * Q8_0BlockBytes, Q8_0BlockBytes);
            float d = (float)BitConverter.UInt16BitsToHalf(BinaryPrimitives.ReadUInt16LittleEndian(block));
            var q = MemoryMarshal.Cast<byte, sbyte>(block[2..]);
            var o = dst.Slice(blk * Q8_0BlockElems, Q8_0BlockElems);
            for (int i = 0; i < Q8_0BlockElems; i++) o[i] = d * q[i];
        }
    }
}
