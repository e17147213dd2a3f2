using SpecEE.Core.Formats;

namespace SpecEE.Core.Text;

/// <summary>
/// Turns a GGUF's embedded SentencePiece vocabulary (llama.cpp's <c>tokenizer.ggml.*</c> keys, model "llama") into a
/// SentencePiece model for the tokenizer library. GGUF stores no normalizer or trainer spec, so the settings are
/// llama.cpp's for SPM vocabularies: BPE, dummy-prefix space (<c>tokenizer.ggml.add_space_prefix</c>, default on),
/// ▁ for spaces, spaces kept as they are (<c>tokenizer.ggml.remove_extra_whitespaces</c>, default off), byte
/// fallback when the vocabulary has byte pieces, BOS 1 / EOS 2 / UNK 0 unless the file says otherwise.
/// </summary>
internal static class GgufVocabulary
{
    private const string Prefix = "tokenizer.ggml.";

    public static (SentencePieceModelProto Model, bool AddBos) ToModelProto(GgufFile gguf)
    {
        string path = gguf.Path;
        if (!gguf.TryGetString(Prefix + "model", out string kind))
            throw new ModelFormatException($"{path}: no embedded tokenizer (metadata key '{Prefix}model' is missing)");
        if (kind != "llama")
            throw new ModelFormatException(
                $"{path}: {Prefix}model is '{kind}'; only 'llama' (SentencePiece BPE) vocabularies are supported");

        string[] tokens = gguf.GetStringArray(Prefix + "tokens");
        int n = tokens.Length;
        float[] scores = gguf.TryGetFloatArray(Prefix + "scores", out var s) ? s : new float[n];
        int[] types = gguf.TryGetInt32Array(Prefix + "token_type", out var t) ? t : Enumerable.Repeat((int)PieceType.Normal, n).ToArray();
        if (scores.Length != n)
            throw new ModelFormatException($"{path}: {Prefix}scores has {scores.Length} entries but {Prefix}tokens has {n}");
        if (types.Length != n)
            throw new ModelFormatException($"{path}: {Prefix}token_type has {types.Length} entries but {Prefix}tokens has {n}");

        var model = new SentencePieceModelProto
        {
            ModelType = SentencePieceModelProto.ModelTypeBpe,
            UnkId = Id(gguf, "unknown_token_id", 0),
            BosId = Id(gguf, "bos_token_id", 1),
            EosId = Id(gguf, "eos_token_id", 2),
            NormalizerName = "identity",
            AddDummyPrefix = Flag(gguf, "add_space_prefix", true),
            RemoveExtraWhitespaces = Flag(gguf, "remove_extra_whitespaces", false),
            EscapeWhitespaces = true,
        };
        for (int i = 0; i < n; i++) model.Pieces.Add(new SentencePiece(tokens[i], scores[i], (PieceType)types[i]));
        model.ByteFallback = types.Contains((int)PieceType.Byte);
        // The trainer spec names the special pieces by text as well as by id.
        if ((uint)model.UnkId < (uint)n) model.UnkPiece = tokens[model.UnkId];
        if ((uint)model.BosId < (uint)n) model.BosPiece = tokens[model.BosId];
        if ((uint)model.EosId < (uint)n) model.EosPiece = tokens[model.EosId];
        return (model, Flag(gguf, "add_bos_token", true));
    }

    private static int Id(GgufFile gguf, string key, int fallback)
    {
        if (!gguf.TryGetInt64(Prefix + key, out long v)) return fallback;
        if (v is < 0 or > int.MaxValue)
            throw new ModelFormatException($"{gguf.Path}: {Prefix}{key} is {v}, expected a token id");
        return (int)v;
    }

    private static bool Flag(GgufFile gguf, string key, bool fallback) => gguf.TryGetBool(Prefix + key, out bool v) ? v : fallback;
}
