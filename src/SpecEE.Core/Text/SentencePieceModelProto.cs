using Google.Protobuf;

namespace SpecEE.Core.Text;

/// <summary>SentencePiece piece types (sentencepiece_model.proto; GGUF's tokenizer.ggml.token_type uses the same numbers).</summary>
internal enum PieceType
{
    Normal = 1,
    Unknown = 2,
    Control = 3,
    UserDefined = 4,
    Unused = 5,
    Byte = 6,
}

/// <summary>One vocabulary entry: the piece text (with ▁ for spaces), its BPE merge score and its type.</summary>
internal readonly record struct SentencePiece(string Piece, float Score, PieceType Type);

/// <summary>
/// The subset of SentencePiece's <c>ModelProto</c> the tokenizer needs, read from and written to the protobuf wire
/// format. Reading gives us the piece types (the tokenizer library does not expose them) and lets us validate a file
/// before handing it to the library; writing lets us build a model in memory from a GGUF's embedded vocabulary.
/// Field numbers follow google/sentencepiece src/sentencepiece_model.proto:
/// ModelProto { 1 pieces (repeated), 2 trainer_spec, 3 normalizer_spec },
/// SentencePiece { 1 piece, 2 score (float), 3 type (enum, default NORMAL) },
/// TrainerSpec { 3 model_type, 24 treat_whitespace_as_suffix, 35 byte_fallback, 40 unk_id, 41 bos_id, 42 eos_id,
///               45 unk_piece, 46 bos_piece, 47 eos_piece },
/// NormalizerSpec { 1 name, 2 precompiled_charsmap, 3 add_dummy_prefix, 4 remove_extra_whitespaces, 5 escape_whitespaces }.
/// Absent fields take the proto2 defaults written below.
/// </summary>
internal sealed class SentencePieceModelProto
{
    public const int ModelTypeUnigram = 1;
    public const int ModelTypeBpe = 2;

    public List<SentencePiece> Pieces { get; } = [];

    /// <summary>
    /// Whether the specs are present. Every real .model file has both, after the pieces, so one missing from a parsed
    /// file means it was cut at a piece boundary. True for a model built in memory.
    /// </summary>
    public bool HasTrainerSpec { get; private set; } = true;
    public bool HasNormalizerSpec { get; private set; } = true;

    // TrainerSpec (proto2 defaults)
    public int ModelType { get; set; } = ModelTypeUnigram;
    public bool TreatWhitespaceAsSuffix { get; set; }
    public bool ByteFallback { get; set; }
    public int UnkId { get; set; } = 0;
    public int BosId { get; set; } = 1;
    public int EosId { get; set; } = 2;
    public string UnkPiece { get; set; } = "<unk>";
    public string BosPiece { get; set; } = "<s>";
    public string EosPiece { get; set; } = "</s>";

    // NormalizerSpec (proto2 defaults)
    public string NormalizerName { get; set; } = "";
    public int PrecompiledCharsmapBytes { get; set; }
    public bool AddDummyPrefix { get; set; } = true;
    public bool RemoveExtraWhitespaces { get; set; } = true;
    public bool EscapeWhitespaces { get; set; } = true;

    /// <summary>Parses the fields above; unknown fields are skipped. Throws <see cref="ModelFormatException"/> naming <paramref name="source"/>.</summary>
    public static SentencePieceModelProto Parse(byte[] bytes, string source)
    {
        var m = new SentencePieceModelProto { HasTrainerSpec = false, HasNormalizerSpec = false };
        try
        {
            var input = new CodedInputStream(bytes);
            uint tag;
            while ((tag = input.ReadTag()) != 0)
            {
                int field = WireFormat.GetTagFieldNumber(tag);
                bool lengthDelimited = WireFormat.GetTagWireType(tag) == WireFormat.WireType.LengthDelimited;
                if (field == 1 && lengthDelimited) m.Pieces.Add(ParsePiece(input.ReadBytes()));
                else if (field == 2 && lengthDelimited) m.ParseTrainerSpec(input.ReadBytes());
                else if (field == 3 && lengthDelimited) m.ParseNormalizerSpec(input.ReadBytes());
                else input.SkipLastField();
            }
        }
        catch (InvalidProtocolBufferException ex)
        {
            throw new ModelFormatException(
                $"{source}: not a valid SentencePiece model (protobuf ModelProto): {ex.Message} (truncated or corrupt file?)", ex);
        }
        return m;
    }

    private static SentencePiece ParsePiece(ByteString bytes)
    {
        string piece = "";
        float score = 0;
        var type = PieceType.Normal;
        var input = bytes.CreateCodedInput();
        uint tag;
        while ((tag = input.ReadTag()) != 0)
        {
            switch (tag)
            {
                case (1 << 3) | 2: piece = input.ReadString(); break;
                case (2 << 3) | 5: score = input.ReadFloat(); break;
                case (3 << 3) | 0: type = (PieceType)input.ReadEnum(); break;
                default: input.SkipLastField(); break;
            }
        }
        return new SentencePiece(piece, score, type);
    }

    private void ParseTrainerSpec(ByteString bytes)
    {
        HasTrainerSpec = true;
        var input = bytes.CreateCodedInput();
        uint tag;
        while ((tag = input.ReadTag()) != 0)
        {
            switch (tag)
            {
                case (3 << 3) | 0: ModelType = input.ReadEnum(); break;
                case (24 << 3) | 0: TreatWhitespaceAsSuffix = input.ReadBool(); break;
                case (35 << 3) | 0: ByteFallback = input.ReadBool(); break;
                case (40 << 3) | 0: UnkId = input.ReadInt32(); break;
                case (41 << 3) | 0: BosId = input.ReadInt32(); break;
                case (42 << 3) | 0: EosId = input.ReadInt32(); break;
                case (45 << 3) | 2: UnkPiece = input.ReadString(); break;
                case (46 << 3) | 2: BosPiece = input.ReadString(); break;
                case (47 << 3) | 2: EosPiece = input.ReadString(); break;
                default: input.SkipLastField(); break;
            }
        }
    }

    private void ParseNormalizerSpec(ByteString bytes)
    {
        HasNormalizerSpec = true;
        var input = bytes.CreateCodedInput();
        uint tag;
        while ((tag = input.ReadTag()) != 0)
        {
            switch (tag)
            {
                case (1 << 3) | 2: NormalizerName = input.ReadString(); break;
                case (2 << 3) | 2: PrecompiledCharsmapBytes = input.ReadBytes().Length; break;
                case (3 << 3) | 0: AddDummyPrefix = input.ReadBool(); break;
                case (4 << 3) | 0: RemoveExtraWhitespaces = input.ReadBool(); break;
                case (5 << 3) | 0: EscapeWhitespaces = input.ReadBool(); break;
                default: input.SkipLastField(); break;
            }
        }
    }

    /// <summary>
    /// Serialises the fields above (every one written explicitly, so no reader depends on proto2 defaults).
    /// A precompiled charsmap is never written: models built here use identity normalisation.
    /// </summary>
    public byte[] ToBytes()
    {
        using var ms = new MemoryStream();
        var output = new CodedOutputStream(ms);
        foreach (var p in Pieces)
        {
            output.WriteTag(1, WireFormat.WireType.LengthDelimited);
            output.WriteBytes(Message(o =>
            {
                o.WriteTag(1, WireFormat.WireType.LengthDelimited); o.WriteString(p.Piece);
                o.WriteTag(2, WireFormat.WireType.Fixed32); o.WriteFloat(p.Score);
                o.WriteTag(3, WireFormat.WireType.Varint); o.WriteEnum((int)p.Type);
            }));
        }
        output.WriteTag(2, WireFormat.WireType.LengthDelimited);
        output.WriteBytes(Message(o =>
        {
            o.WriteTag(3, WireFormat.WireType.Varint); o.WriteEnum(ModelType);
            o.WriteTag(4, WireFormat.WireType.Varint); o.WriteInt32(Pieces.Count); // vocab_size
            o.WriteTag(24, WireFormat.WireType.Varint); o.WriteBool(TreatWhitespaceAsSuffix);
            o.WriteTag(35, WireFormat.WireType.Varint); o.WriteBool(ByteFallback);
            o.WriteTag(40, WireFormat.WireType.Varint); o.WriteInt32(UnkId);
            o.WriteTag(41, WireFormat.WireType.Varint); o.WriteInt32(BosId);
            o.WriteTag(42, WireFormat.WireType.Varint); o.WriteInt32(EosId);
            o.WriteTag(45, WireFormat.WireType.LengthDelimited); o.WriteString(UnkPiece);
            o.WriteTag(46, WireFormat.WireType.LengthDelimited); o.WriteString(BosPiece);
            o.WriteTag(47, WireFormat.WireType.LengthDelimited); o.WriteString(EosPiece);
        }));
        output.WriteTag(3, WireFormat.WireType.LengthDelimited);
        output.WriteBytes(Message(o =>
        {
            o.WriteTag(1, WireFormat.WireType.LengthDelimited); o.WriteString(NormalizerName);
            o.WriteTag(3, WireFormat.WireType.Varint); o.WriteBool(AddDummyPrefix);
            o.WriteTag(4, WireFormat.WireType.Varint); o.WriteBool(RemoveExtraWhitespaces);
            o.WriteTag(5, WireFormat.WireType.Varint); o.WriteBool(EscapeWhitespaces);
        }));
        output.Flush();
        return ms.ToArray();
    }

    private static ByteString Message(Action<CodedOutputStream> write)
    {
        using var ms = new MemoryStream();
        var o = new CodedOutputStream(ms);
        write(o);
        o.Flush();
        return ByteString.CopyFrom(ms.ToArray());
    }
}
