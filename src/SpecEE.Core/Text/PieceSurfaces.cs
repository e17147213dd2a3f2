using System.Globalization;
using System.Text;

namespace SpecEE.Core.Text;

/// <summary>
/// What each id contributes to decoded text, as UTF-8 bytes (SentencePiece's decoder rules,
/// sentencepiece_processor.cc Decode): normal / user-defined / unused pieces: the piece with ▁ turned into a space
/// (when the model escapes whitespace); byte pieces &lt;0xNN&gt;: the single raw byte NN (runs of them form UTF-8
/// characters); control pieces (BOS, EOS): nothing; the unknown piece: " ⁇ " (U+2047 between spaces).
/// At the start of the text the leading space of the first text piece is the dummy prefix and is dropped — only
/// that one, so " Hello" = [▁, ▁Hello] decodes back to " Hello"; a model that removes extra whitespace drops every
/// leading space, as its encoder did.
/// </summary>
internal sealed class PieceSurfaces
{
    private static readonly byte[] UnknownSurface = Encoding.UTF8.GetBytes(" \u2047 ");

    private readonly string[] _pieces;
    private readonly byte[][] _surface;      // [vocab] bytes appended for the id
    private readonly PieceType[] _types;     // [vocab]
    private readonly bool _canDropLeadingSpace;  // add_dummy_prefix || remove_extra_whitespaces
    private readonly bool _dropsAllLeadingSpaces; // remove_extra_whitespaces

    public PieceSurfaces(SentencePieceModelProto model)
    {
        int n = model.Pieces.Count;
        _pieces = new string[n];
        _surface = new byte[n][];
        _types = new PieceType[n];
        _canDropLeadingSpace = model.AddDummyPrefix || model.RemoveExtraWhitespaces;
        _dropsAllLeadingSpaces = model.RemoveExtraWhitespaces;
        for (int id = 0; id < n; id++)
        {
            var p = model.Pieces[id];
            _pieces[id] = p.Piece;
            _types[id] = p.Type;
            switch (p.Type)
            {
                case PieceType.Control:
                    _surface[id] = [];
                    break;
                case PieceType.Unknown:
                    _surface[id] = UnknownSurface;
                    break;
                case PieceType.Byte:
                    _surface[id] = [ParseBytePiece(p.Piece) ?? throw new InvalidOperationException("validated byte piece")];
                    break;
                default:
                    string text = model.EscapeWhitespaces ? p.Piece.Replace('\u2581', ' ') : p.Piece;
                    _surface[id] = Encoding.UTF8.GetBytes(text);
                    break;
            }
        }
    }

    /// <summary>Number of ids.</summary>
    public int Count => _pieces.Length;

    /// <summary>The raw vocabulary piece of <paramref name="id"/>.</summary>
    public string Piece(int id)
    {
        Check(id);
        return _pieces[id];
    }

    /// <summary>
    /// The bytes <paramref name="id"/> adds to the text. <paramref name="atTextStart"/> is true until the text has
    /// begun (start it at true for a new text); this updates it.
    /// </summary>
    public ReadOnlySpan<byte> Get(int id, ref bool atTextStart)
    {
        Check(id);
        ReadOnlySpan<byte> s = _surface[id];
        switch (_types[id])
        {
            case PieceType.Control:
                return s;
            case PieceType.Byte:
            case PieceType.Unknown:
                atTextStart = false;
                return s;
        }
        if (atTextStart && _canDropLeadingSpace && s.Length > 0 && s[0] == (byte)' ')
        {
            s = s[1..];
            if (!_dropsAllLeadingSpaces) atTextStart = false; // only the one dummy-prefix space
        }
        if (s.Length > 0) atTextStart = false;
        return s;
    }

    /// <summary>The byte value of a byte-fallback piece "&lt;0xNN&gt;" (exactly two upper- or lower-case hex digits), else null.</summary>
    public static byte? ParseBytePiece(string piece)
    {
        if (piece.Length != 6 || !piece.StartsWith("<0x", StringComparison.Ordinal) || piece[5] != '>') return null;
        return byte.TryParse(piece.AsSpan(3, 2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out byte b) ? b : null;
    }

    private void Check(int id)
    {
        if ((uint)id >= (uint)_pieces.Length)
            throw new InvalidRequestException($"token id {id} is outside the vocabulary (0..{_pieces.Length - 1})");
    }
}
