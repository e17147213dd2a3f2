using System.Buffers.Binary;
using System.Text;

namespace SpecEE.Core.Formats;

/// <summary>
/// Little-endian sequential reader over the header part of a GGUF file. Every read first checks that the
/// bytes exist, so a truncated or corrupt file gives a <see cref="ModelFormatException"/> that names the
/// file, the offset and the field being read, never an EndOfStream or OutOfMemory.
/// </summary>
internal sealed class GgufCursor(Stream stream, string path)
{
    private readonly byte[] _scratch = new byte[8];

    public string Path { get; } = path;
    public long Length { get; } = stream.Length;
    public long Position { get; private set; }
    public long Remaining => Length - Position;

    /// <summary>
    /// Throws unless <paramref name="count"/> more bytes exist; <paramref name="what"/> names the field, and
    /// <paramref name="index"/> ≥ 0 its array element (the label is only formatted on failure: vocabularies have 10⁵ strings).
    /// </summary>
    public void Need(long count, string what, long index = -1)
    {
        if (count < 0 || count > Remaining)
            throw new ModelFormatException(
                $"{Path}: truncated or corrupt GGUF file: {Label(what, index)} needs {FormatCount(count)} bytes at offset {Position}, " +
                $"but the file has only {Remaining} bytes left (file length {Length})");
    }

    public static string Label(string what, long index) => index < 0 ? what : $"{what}[{index}]";

    private static string FormatCount(long count) => count < 0 ? "an impossible number of" : count.ToString();

    private ReadOnlySpan<byte> Take(int count, string what, long index = -1)
    {
        Need(count, what, index);
        stream.ReadExactly(_scratch, 0, count);
        Position += count;
        return _scratch.AsSpan(0, count);
    }

    public byte U8(string what, long index = -1) => Take(1, what, index)[0];
    public ushort U16(string what) => BinaryPrimitives.ReadUInt16LittleEndian(Take(2, what));
    public uint U32(string what) => BinaryPrimitives.ReadUInt32LittleEndian(Take(4, what));
    public ulong U64(string what) => BinaryPrimitives.ReadUInt64LittleEndian(Take(8, what));

    /// <summary>
    /// A u64 count that must fit in the rest of the file at <paramref name="minBytesEach"/> bytes per item:
    /// this bounds every allocation by the file length, whatever the corrupt count says.
    /// </summary>
    public long Count(string what, long minBytesEach)
    {
        long at = Position;
        ulong n = U64(what);
        if (n > (ulong)Remaining / (ulong)Math.Max(1, minBytesEach))
            throw new ModelFormatException(
                $"{Path}: truncated or corrupt GGUF file: {what} is {n} at offset {at}, but at {minBytesEach} bytes each that " +
                $"cannot fit in the {Remaining} bytes left (file length {Length})");
        return (long)n;
    }

    /// <summary>A gguf_string: u64 byte length, then UTF-8 without a terminator.</summary>
    public string String(string what, long index = -1)
    {
        long at = Position;
        ulong len = BinaryPrimitives.ReadUInt64LittleEndian(Take(8, what, index));
        if (len > (ulong)Remaining)
            throw new ModelFormatException(
                $"{Path}: truncated or corrupt GGUF file: {Label(what, index)} at offset {at} claims {len} bytes, " +
                $"but only {Remaining} bytes are left (file length {Length})");
        if (len > int.MaxValue)
            throw new ModelFormatException($"{Path}: corrupt GGUF file: {Label(what, index)} at offset {at} is {len} bytes long (limit {int.MaxValue})");
        if (len == 0) return "";
        var buf = new byte[(int)len];
        stream.ReadExactly(buf);
        Position += (long)len;
        try
        {
            return Strict.GetString(buf);
        }
        catch (DecoderFallbackException)
        {
            throw new ModelFormatException($"{Path}: corrupt GGUF file: {Label(what, index)} at offset {at} is not valid UTF-8");
        }
    }

    private static readonly UTF8Encoding Strict = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);
}
