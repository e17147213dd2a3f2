using System.Text;

namespace SpecEE.Core.Text;

/// <summary>
/// Incremental decoding for printing tokens as they are generated. Feed ids one at a time; each call returns the
/// text that became complete. A character split over several byte-fallback pieces (e.g. an emoji as four &lt;0xNN&gt;
/// pieces) is returned whole once its last byte arrives. The concatenation of every <see cref="Append"/> result and
/// <see cref="Flush"/> equals <see cref="TextTokenizer.Decode"/> of the same ids. Not thread-safe (one per stream).
/// </summary>
public sealed class TokenStreamDecoder
{
    private readonly PieceSurfaces _surfaces;
    private readonly Decoder _utf8 = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: false).GetDecoder();
    private readonly bool _startsText;
    private bool _atTextStart;
    private char[] _chars = new char[64];

    internal TokenStreamDecoder(PieceSurfaces surfaces, bool atTextStart)
    {
        _surfaces = surfaces;
        _startsText = atTextStart;
        _atTextStart = atTextStart;
    }

    /// <summary>Adds one id; returns the newly completed text (empty while a UTF-8 sequence is incomplete or for BOS/EOS).</summary>
    public string Append(int id)
    {
        ReadOnlySpan<byte> bytes = _surfaces.Get(id, ref _atTextStart);
        return bytes.Length == 0 ? "" : Convert(bytes, flush: false);
    }

    /// <summary>
    /// Ends the stream: returns what is held back (an incomplete UTF-8 sequence becomes U+FFFD, as in batch decoding)
    /// and resets the decoder to its initial state.
    /// </summary>
    public string Flush()
    {
        string rest = Convert([], flush: true);
        _utf8.Reset();
        _atTextStart = _startsText;
        return rest;
    }

    private string Convert(ReadOnlySpan<byte> bytes, bool flush)
    {
        int need = _utf8.GetCharCount(bytes, flush);
        if (need > _chars.Length) _chars = new char[Math.Max(need, 2 * _chars.Length)];
        int n = _utf8.GetChars(bytes, _chars, flush);
        return n == 0 ? "" : new string(_chars, 0, n);
    }
}
