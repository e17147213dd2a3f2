using SpecEE.Core.Model;

namespace SpecEE.Core.Formats;

/// <summary>
/// Maps a llama.cpp GGUF of architecture "llama" to <see cref="LlamaModel"/>.
/// Config comes from the <c>llama.*</c> keys; tensors use llama.cpp's names (<c>token_embd</c>,
/// <c>blk.N.attn_q</c>, ...). llama.cpp's converter already permuted Q/K rows into the interleaved-pair
/// RoPE order, which is our convention, so rows are used as stored. A missing <c>output.weight</c>
/// means the classifier is tied to the embedding. Every tensor of the file must be used, so metadata
/// that disagrees with the tensors (e.g. a wrong block_count) is an error, not a silently partial model.
/// </summary>
public static class GgufLlamaReader
{
    private const string Arch = "llama";

    public static LlamaModel Load(string path) => Load(GgufFile.Open(path));

    public static LlamaModel Load(GgufFile g)
    {
        string path = g.Path;
        if (!g.TryGetString("general.architecture", out string arch))
            throw new ModelFormatException($"{path}: GGUF metadata has no general.architecture, expected \"{Arch}\"");
        if (arch != Arch)
            throw new ModelFormatException($"{path}: GGUF architecture is \"{arch}\", expected \"{Arch}\" (only Llama models are supported)");
        if (g.Tensors.Count == 0)
            throw new ModelFormatException($"{path}: GGUF file holds no tensors (a vocabulary-only file?), expected Llama weights");
        RejectUnsupported(g);

        var embInfo = g.Tensor("token_embd.weight");
        var cfg = ReadConfig(g, embInfo);
        cfg.Validate(path);

        long d = cfg.Dim, hd = cfg.HiddenDim, v = cfg.Vocab, kv = cfg.KvDim, qd = cfg.NHeads * cfg.HeadDim;
        var used = new HashSet<string>(StringComparer.Ordinal);
        float[] Read(string name, params long[] shape)
        {
            used.Add(name);
            return g.ReadF32(name, shape);
        }

        var emb = Read("token_embd.weight", v, d);
        var layers = new LayerWeights[cfg.NLayers];
        for (int l = 0; l < cfg.NLayers; l++)
        {
            string p = $"blk.{l}.";
            layers[l] = new LayerWeights
            {
                AttnNorm = Read(p + "attn_norm.weight", d),
                Wq = Read(p + "attn_q.weight", qd, d),
                Wk = Read(p + "attn_k.weight", kv, d),
                Wv = Read(p + "attn_v.weight", kv, d),
                Wo = Read(p + "attn_output.weight", d, qd),
                FfnNorm = Read(p + "ffn_norm.weight", d),
                W1 = Read(p + "ffn_gate.weight", hd, d),
                W2 = Read(p + "ffn_down.weight", d, hd),
                W3 = Read(p + "ffn_up.weight", hd, d),
            };
        }
        var finalNorm = Read("output_norm.weight", d);
        var cls = cfg.TiedClassifier ? emb : Read("output.weight", v, d);

        var unused = g.Tensors.Select(t => t.Name).Where(n => !used.Contains(n)).ToList();
        if (unused.Count > 0)
            throw new ModelFormatException(
                $"{path}: tensor '{unused[0]}'{(unused.Count > 1 ? $" (and {unused.Count - 1} more)" : "")} is not part of a llama model with " +
                $"{Arch}.block_count = {cfg.NLayers}; the metadata and the tensors disagree");

        var weights = new LlamaWeights { TokenEmbedding = emb, Layers = layers, FinalNorm = finalNorm, Classifier = cls };
        WeightChecks.RequireFinite(path, weights);
        return new LlamaModel { Config = cfg, Weights = weights, SourcePath = path, Format = "gguf" };
    }

    private static LlamaConfig ReadConfig(GgufFile g, GgufTensorInfo emb)
    {
        string path = g.Path;
        int Required(string key)
        {
            int x = g.GetInt32($"{Arch}.{key}");
            if (x <= 0) throw new ModelFormatException($"{path}: metadata {Arch}.{key} is {x}, expected a positive number");
            return x;
        }
        int dim = Required("embedding_length");
        int nHeads = Required("attention.head_count");
        int nKvHeads = g.TryGetInt32($"{Arch}.attention.head_count_kv", out int kvh) ? kvh : nHeads;

        // The vocabulary size is the embedding's row count; every other place that states it must agree.
        if (emb.Dims.Length != 2 || emb.Dims[0] != dim)
            throw new ModelFormatException(
                $"{path}: tensor 'token_embd.weight' has shape {emb.ShapeText}, expected [vocab, {dim}] ({Arch}.embedding_length = {dim})");
        if (emb.Dims[1] > int.MaxValue)
            throw new ModelFormatException($"{path}: tensor 'token_embd.weight' has {emb.Dims[1]} rows, far too many for a vocabulary");
        int vocab = (int)emb.Dims[1];
        if (g.TryGetInt32($"{Arch}.vocab_size", out int declaredVocab) && declaredVocab != vocab)
            throw new ModelFormatException(
                $"{path}: {Arch}.vocab_size is {declaredVocab}, but token_embd.weight has {vocab} rows");
        if (g.TryGetStringArray("tokenizer.ggml.tokens", out string[] tokens) && tokens.Length != vocab)
            throw new ModelFormatException(
                $"{path}: tokenizer.ggml.tokens has {tokens.Length} entries, but token_embd.weight has {vocab} rows");

        var cfg = new LlamaConfig
        {
            Dim = dim,
            HiddenDim = Required("feed_forward_length"),
            NLayers = Required("block_count"),
            NHeads = nHeads,
            NKvHeads = nKvHeads,
            Vocab = vocab,
            MaxSeq = Required("context_length"),
            NormEps = g.GetFloat($"{Arch}.attention.layer_norm_rms_epsilon"),
            RopeTheta = g.TryGetFloat($"{Arch}.rope.freq_base", out float theta) ? theta : 10000f,
            TiedClassifier = !g.ContainsTensor("output.weight"),
            BosId = g.TryGetInt32("tokenizer.ggml.bos_token_id", out int bos) ? bos : 1,
            EosId = g.TryGetInt32("tokenizer.ggml.eos_token_id", out int eos) ? eos : 2,
        };
        if (cfg.NKvHeads <= 0 || cfg.NHeads % cfg.NKvHeads != 0 || cfg.Dim % cfg.NHeads != 0)
            throw new ModelFormatException(
                $"{path}: {Arch}.attention.head_count = {nHeads} and head_count_kv = {nKvHeads} do not divide embedding_length = {dim} into whole heads and GQA groups");
        if (g.TryGetInt32($"{Arch}.rope.dimension_count", out int ropeDims) && ropeDims != cfg.HeadDim)
            throw new ModelFormatException(
                $"{path}: {Arch}.rope.dimension_count is {ropeDims}, expected the head dimension {cfg.HeadDim} (partial rotary embeddings are not supported)");
        if (g.TryGetInt32($"{Arch}.attention.key_length", out int kLen) && kLen != cfg.HeadDim)
            throw new ModelFormatException($"{path}: {Arch}.attention.key_length is {kLen}, expected embedding_length / head_count = {cfg.HeadDim}");
        if (cfg.BosId < 0 || cfg.BosId >= vocab || cfg.EosId < 0 || cfg.EosId >= vocab)
            throw new ModelFormatException($"{path}: tokenizer.ggml.bos_token_id {cfg.BosId} / eos_token_id {cfg.EosId} lie outside the vocabulary of {vocab}");
        return cfg;
    }

    /// <summary>Llama variants whose math differs from plain Llama: refuse them rather than compute wrong logits.</summary>
    private static void RejectUnsupported(GgufFile g)
    {
        string path = g.Path;
        if (g.TryGetString($"{Arch}.rope.scaling.type", out string scaling) && scaling is not ("none" or ""))
            throw new ModelFormatException($"{path}: RoPE scaling \"{scaling}\" ({Arch}.rope.scaling.type) is not supported, expected none");
        if (g.TryGetInt32($"{Arch}.expert_count", out int experts) && experts > 0)
            throw new ModelFormatException($"{path}: mixture-of-experts Llama ({Arch}.expert_count = {experts}) is not supported");
        if (g.ContainsTensor("rope_freqs.weight"))
            throw new ModelFormatException($"{path}: tensor 'rope_freqs.weight' (Llama 3.1 RoPE frequency scaling) is not supported");
    }
}
