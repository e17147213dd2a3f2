namespace SpecEE.Core.Text;

/// <summary>
/// Checks a SentencePiece model before it reaches the tokenizer library, so that a bad file is reported once,
/// clearly and with its name, instead of as an exception from inside the library or as wrong token ids later.
/// </summary>
internal static class ModelValidation
{
    public static void Validate(SentencePieceModelProto m, string source)
    {
        int n = m.Pieces.Count;
        if (n == 0)
            throw new ModelFormatException($"{source}: the SentencePiece model has no pieces (empty, truncated or not a .model file)");
        if (!m.HasTrainerSpec || !m.HasNormalizerSpec)
            throw new ModelFormatException(
                $"{source}: the SentencePiece model has {n} pieces but no {(m.HasTrainerSpec ? "normalizer_spec" : "trainer_spec")} (truncated file?)");
        if (m.ModelType is not (SentencePieceModelProto.ModelTypeBpe or SentencePieceModelProto.ModelTypeUnigram))
            throw new ModelFormatException(
                $"{source}: SentencePiece model_type {m.ModelType} is not supported (expected 2 = BPE, as in Llama tokenizers, or 1 = UNIGRAM)");
        if (m.TreatWhitespaceAsSuffix)
            throw new ModelFormatException($"{source}: SentencePiece models with treat_whitespace_as_suffix are not supported");

        var seen = new Dictionary<string, int>(n, StringComparer.Ordinal);
        for (int id = 0; id < n; id++)
        {
            var p = m.Pieces[id];
            if (p.Piece.Length == 0)
                throw new ModelFormatException($"{source}: piece {id} is empty");
            if (p.Type is < PieceType.Normal or > PieceType.Byte)
                throw new ModelFormatException($"{source}: piece {id} '{p.Piece}' has unknown type {(int)p.Type} (expected 1..6)");
            if (!seen.TryAdd(p.Piece, id))
                throw new ModelFormatException($"{source}: piece '{p.Piece}' appears twice (ids {seen[p.Piece]} and {id})");
            if (p.Type == PieceType.Byte && PieceSurfaces.ParseBytePiece(p.Piece) is null)
                throw new ModelFormatException($"{source}: byte piece {id} is '{p.Piece}', expected the form <0xNN>");
        }

        RequireId(m.UnkId, "unk", PieceType.Unknown);
        RequireId(m.BosId, "bos", PieceType.Control);
        RequireId(m.EosId, "eos", PieceType.Control);

        if (m.ByteFallback)
        {
            // The library maps byte b to id(<0x00>) + b, so the 256 byte pieces must be consecutive and in order.
            if (!seen.TryGetValue("<0x00>", out int first) || first + 256 > n)
                throw new ModelFormatException($"{source}: byte_fallback is on but the pieces <0x00>..<0xFF> are missing");
            for (int b = 0; b < 256; b++)
            {
                var p = m.Pieces[first + b];
                if (p.Type != PieceType.Byte || PieceSurfaces.ParseBytePiece(p.Piece) != b)
                    throw new ModelFormatException(
                        $"{source}: byte_fallback needs <0x00>..<0xFF> as consecutive byte pieces from id {first}, but id {first + b} is '{p.Piece}' ({p.Type})");
            }
        }

        void RequireId(int id, string name, PieceType expected)
        {
            if ((uint)id >= (uint)n)
                throw new ModelFormatException($"{source}: {name}_id {id} is outside the vocabulary of {n} pieces");
            if (m.Pieces[id].Type != expected)
                throw new ModelFormatException(
                    $"{source}: {name}_id {id} is piece '{m.Pieces[id].Piece}' of type {m.Pieces[id].Type}, expected {expected}");
        }
    }
}
