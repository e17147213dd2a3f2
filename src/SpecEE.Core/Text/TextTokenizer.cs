using System.Text;
using Microsoft.ML.Tokenizers;
using SpecEE.Core.Formats;

namespace SpecEE.Core.Text;

/// <summary>
/// Llama-style SentencePiece tokenizer (BPE with byte fallback): encoding is delegated to
/// Microsoft.ML.Tokenizers' <see cref="SentencePieceTokenizer"/>; decoding is done here from the piece table, so that
/// batch and streaming decode share one definition of a piece's bytes and follow SentencePiece exactly (the
/// library's Decode drops the space of the first text piece after leading byte pieces, "\n Hello" → "\nHello",
/// and drops &lt;unk&gt;). Sources: a SentencePiece <c>.model</c> file (tok512.model, Llama-2 tokenizer.model) or a
/// GGUF's embedded vocabulary (<c>tokenizer.ggml.*</c>). Immutable; Encode and Decode may be called from several
/// threads (the library keeps no per-call state in the tokenizer); a <see cref="TokenStreamDecoder"/> is per stream.
/// </summary>
public sealed class TextTokenizer
{
    private readonly SentencePieceTokenizer _encoder;
    private readonly PieceSurfaces _surfaces;

    private TextTokenizer(SentencePieceTokenizer encoder, SentencePieceModelProto model, string source, bool addBosByDefault)
    {
        _encoder = encoder;
        _surfaces = new PieceSurfaces(model);
        Source = source;
        AddBosByDefault = addBosByDefault;
        BosId = model.BosId;
        EosId = model.EosId;
        UnkId = model.UnkId;
        VocabSize = model.Pieces.Count;
        RemovesExtraWhitespace = model.RemoveExtraWhitespaces;
    }

    /// <summary>Beginning-of-sequence id (1 for Llama vocabularies).</summary>
    public int BosId { get; }

    /// <summary>End-of-sequence id (2 for Llama vocabularies).</summary>
    public int EosId { get; }

    /// <summary>Unknown-piece id (0 for Llama vocabularies).</summary>
    public int UnkId { get; }

    /// <summary>Number of pieces; valid ids are 0 .. VocabSize-1.</summary>
    public int VocabSize { get; }

    /// <summary>Whether prompts for this model should start with BOS (GGUF <c>tokenizer.ggml.add_bos_token</c>; true for .model files).</summary>
    public bool AddBosByDefault { get; }

    /// <summary>
    /// Whether encoding first trims leading/trailing spaces and collapses runs of spaces (SentencePiece's
    /// <c>remove_extra_whitespaces</c>; true in tok512.model, false in Llama-2's tokenizer.model), so that
    /// Decode(Encode(text)) returns the text with that normalisation applied.
    /// </summary>
    public bool RemovesExtraWhitespace { get; }

    /// <summary>The file this tokenizer was read from.</summary>
    public string Source { get; }

    /// <summary>Reads a SentencePiece <c>ModelProto</c> file (.model). Bad files throw <see cref="ModelFormatException"/>.</summary>
    public static TextTokenizer FromSentencePieceModel(string path)
    {
        byte[] bytes = ReadFile(path);
        var model = SentencePieceModelProto.Parse(bytes, path);
        return Create(bytes, model, path, addBosByDefault: true);
    }

    /// <summary>
    /// Opens a tokenizer by content: a GGUF file (magic "GGUF") uses its embedded vocabulary, anything else is read
    /// as a SentencePiece .model file.
    /// </summary>
    public static TextTokenizer Load(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (!File.Exists(path)) throw new ModelFormatException($"{path}: tokenizer file not found");
        return GgufFile.HasMagic(path) ? FromGguf(GgufFile.Open(path)) : FromSentencePieceModel(path);
    }

    /// <summary>
    /// Builds the tokenizer from a GGUF file's embedded vocabulary (<c>tokenizer.ggml.model</c> = "llama").
    /// Other tokenizer models (gpt2 BPE, ...) throw <see cref="ModelFormatException"/>.
    /// </summary>
    public static TextTokenizer FromGguf(GgufFile gguf)
    {
        ArgumentNullException.ThrowIfNull(gguf);
        var (model, addBos) = GgufVocabulary.ToModelProto(gguf);
        return Create(model.ToBytes(), model, gguf.Path, addBos);
    }

    /// <summary>
    /// Encodes text with Llama semantics: SentencePiece normalisation (a dummy-prefix space, spaces as ▁), BPE merges,
    /// and bytes &lt;0xNN&gt; for characters outside the vocabulary. No EOS is appended. Text is never parsed for
    /// control pieces ("&lt;s&gt;" in the text is ordinary text), as in SentencePiece.
    /// </summary>
    public int[] Encode(string text, bool addBos)
    {
        ArgumentNullException.ThrowIfNull(text);
        // The library returns nothing for empty text, even when BOS was asked for; SentencePiece returns [BOS].
        if (text.Length == 0) return addBos ? [BosId] : [];
        var ids = _encoder.EncodeToIds(text, addBeginningOfSentence: addBos, addEndOfSentence: false);
        return [.. ids];
    }

    /// <summary>
    /// Decodes ids to text as SentencePiece does: control pieces (BOS, EOS) vanish, ▁ becomes a space, the dummy-prefix
    /// space of the first piece is removed, runs of byte pieces are joined and decoded as UTF-8 (invalid sequences
    /// become U+FFFD), the unknown piece becomes " ⁇ ". Ids outside the vocabulary throw <see cref="InvalidRequestException"/>.
    /// </summary>
    public string Decode(IEnumerable<int> ids)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var bytes = new List<byte>();
        bool atTextStart = true;
        foreach (int id in ids) bytes.AddRange(_surfaces.Get(id, ref atTextStart));
        return Encoding.UTF8.GetString(bytes.ToArray());
    }

    /// <summary>
    /// A decoder fed one id at a time that returns the text to print so far (incomplete UTF-8 sequences are held
    /// back until their last byte arrives). <paramref name="atTextStart"/> = true when the first id fed begins the
    /// text (its dummy-prefix space is removed, as in <see cref="Decode"/>); false when continuing after a prompt
    /// that was already printed.
    /// </summary>
    public TokenStreamDecoder CreateStreamDecoder(bool atTextStart = true) => new(_surfaces, atTextStart);

    /// <summary>The raw piece of an id as stored in the vocabulary (with ▁, or "&lt;0x0A&gt;" for byte pieces).</summary>
    public string PieceOf(int id) => _surfaces.Piece(id);

    private static TextTokenizer Create(byte[] protoBytes, SentencePieceModelProto model, string source, bool addBosByDefault)
    {
        ModelValidation.Validate(model, source);
        SentencePieceTokenizer encoder;
        try
        {
            using var stream = new MemoryStream(protoBytes, writable: false);
            encoder = SentencePieceTokenizer.Create(stream, addBeginningOfSentence: false, addEndOfSentence: false);
        }
        catch (Exception ex) when (ex is not SpecEEException)
        {
            throw new ModelFormatException($"{source}: Microsoft.ML.Tokenizers rejected the SentencePiece model: {ex.Message}", ex);
        }
        return new TextTokenizer(encoder, model, source, addBosByDefault);
    }

    private static byte[] ReadFile(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (!File.Exists(path)) throw new ModelFormatException($"{path}: tokenizer file not found");
        try
        {
            return File.ReadAllBytes(path);
        }
        catch (IOException ex)
        {
            throw new ModelFormatException($"{path}: cannot read tokenizer file: {ex.Message}", ex);
        }
    }
}
