using System.Globalization;
using SpecEE.Core.Model;

namespace SpecEE.Core.Formats;

/// <summary>
/// Reads a Hugging Face <c>LlamaForCausalLM</c> checkpoint: <c>config.json</c> plus one safetensors file
/// with tensors <c>model.embed_tokens.weight</c>, <c>model.layers.{i}.{input_layernorm, post_attention_layernorm}.weight</c>,
/// <c>model.layers.{i}.self_attn.{q,k,v,o}_proj.weight</c>, <c>model.layers.{i}.mlp.{gate,up,down}_proj.weight</c>,
/// <c>model.norm.weight</c> and <c>lm_head.weight</c> (absent when <c>tie_word_embeddings</c>), all [out, in];
/// or the same tensors spread over shards listed by <c>model.safetensors.index.json</c>.
/// </summary>
/// <remarks>
/// HF applies RoPE in the rotate-half layout (pairs (i, i + headDim/2) inside a head); the engine's one RoPE
/// rotates interleaved pairs (2i, 2i+1). Q and K rows are permuted at load (see
/// <see cref="RotateHalfToInterleavedRows"/>), which leaves every attention score unchanged.
/// Each tensor's shape is checked against the config and its values must be finite.
/// </remarks>
public static class HfLlamaReader
{
    /// <summary>Loads the config at <paramref name="configPath"/> and the weights in <paramref name="safetensorsPath"/>.</summary>
    public static LlamaModel Load(string configPath, string safetensorsPath)
    {
        var cfg = HfConfigJson.Parse(configPath);
        return Build(cfg, configPath, HfTensorSource.Single(safetensorsPath));
    }

    /// <summary>
    /// Loads a sharded checkpoint: the config at <paramref name="configPath"/> and the shards listed in
    /// <paramref name="indexPath"/> (<c>model.safetensors.index.json</c>), which sit beside the index.
    /// </summary>
    public static LlamaModel LoadSharded(string configPath, string indexPath)
    {
        var cfg = HfConfigJson.Parse(configPath);
        return Build(cfg, configPath, HfTensorSource.Sharded(indexPath));
    }

    private static LlamaModel Build(LlamaConfig cfg, string configPath, HfTensorSource source)
    {
        var reader = new TensorReader(source, configPath, cfg);
        reader.RejectUnusedLayersAndBiases();

        int dim = cfg.Dim, qDim = cfg.NHeads * cfg.HeadDim, kvDim = cfg.KvDim;
        var emb = reader.Matrix("model.embed_tokens.weight", cfg.Vocab, dim, "vocab_size × hidden_size");
        var layers = new LayerWeights[cfg.NLayers];
        for (int l = 0; l < cfg.NLayers; l++)
        {
            string p = $"model.layers.{l}.";
            var wq = reader.Matrix(p + "self_attn.q_proj.weight", qDim, dim, "num_attention_heads·head_dim × hidden_size");
            var wk = reader.Matrix(p + "self_attn.k_proj.weight", kvDim, dim, "num_key_value_heads·head_dim × hidden_size");
            layers[l] = new LayerWeights
            {
                AttnNorm = reader.Vector(p + "input_layernorm.weight", dim, "hidden_size"),
                Wq = RotateHalfToInterleavedRows(wq, cfg.NHeads, cfg.HeadDim, dim),
                Wk = RotateHalfToInterleavedRows(wk, cfg.NKvHeads, cfg.HeadDim, dim),
                Wv = reader.Matrix(p + "self_attn.v_proj.weight", kvDim, dim, "num_key_value_heads·head_dim × hidden_size"),
                Wo = reader.Matrix(p + "self_attn.o_proj.weight", dim, qDim, "hidden_size × num_attention_heads·head_dim"),
                FfnNorm = reader.Vector(p + "post_attention_layernorm.weight", dim, "hidden_size"),
                W1 = reader.Matrix(p + "mlp.gate_proj.weight", cfg.HiddenDim, dim, "intermediate_size × hidden_size"),
                W2 = reader.Matrix(p + "mlp.down_proj.weight", dim, cfg.HiddenDim, "hidden_size × intermediate_size"),
                W3 = reader.Matrix(p + "mlp.up_proj.weight", cfg.HiddenDim, dim, "intermediate_size × hidden_size"),
            };
        }
        var finalNorm = reader.Vector("model.norm.weight", dim, "hidden_size");

        float[] classifier;
        if (cfg.TiedClassifier)
            classifier = emb; // transformers ties lm_head to the embedding and ignores a stored lm_head.weight
        else if (source.Contains("lm_head.weight"))
            classifier = reader.Matrix("lm_head.weight", cfg.Vocab, dim, "vocab_size × hidden_size");
        else
            throw new ModelFormatException(
                $"{source.Path}: tensor 'lm_head.weight' is missing, and {configPath} does not set tie_word_embeddings to true " +
                "(an untied model needs its own classifier)");

        var weights = new LlamaWeights { TokenEmbedding = emb, Layers = layers, FinalNorm = finalNorm, Classifier = classifier };
        return new LlamaModel { Config = cfg, Weights = weights, SourcePath = source.Path, Format = "safetensors" };
    }

    /// <summary>
    /// Reorders the rows of a Q or K projection [nHeads·headDim, cols] from HF's rotate-half RoPE layout to
    /// the interleaved-pair layout: <c>out[h·hd + 2i + j] = in[h·hd + j·hd/2 + i]</c> for j ∈ {0, 1}, i &lt; hd/2.
    /// Also what an EAGLE head stored in HF layout needs.
    /// </summary>
    public static float[] RotateHalfToInterleavedRows(ReadOnlySpan<float> rotateHalf, int nHeads, int headDim, int cols)
    {
        if (headDim % 2 != 0 || (long)nHeads * headDim * cols != rotateHalf.Length)
            throw new ArgumentException($"expected {nHeads}·{headDim} rows of {cols} with an even head dim, got {rotateHalf.Length} values");
        var interleaved = new float[rotateHalf.Length];
        int half = headDim / 2;
        for (int h = 0; h < nHeads; h++)
            for (int i = 0; i < half; i++)
                for (int j = 0; j < 2; j++)
                {
                    int src = h * headDim + j * half + i, dst = h * headDim + 2 * i + j;
                    rotateHalf.Slice(src * cols, cols).CopyTo(interleaved.AsSpan(dst * cols, cols));
                }
        return interleaved;
    }

    /// <summary>Reads tensors with shape checks whose messages name both files and the config keys behind the shape.</summary>
    private sealed class TensorReader(HfTensorSource source, string configPath, LlamaConfig cfg)
    {
        public float[] Matrix(string name, int rows, int cols, string formula) => Read(name, [rows, cols], formula);

        public float[] Vector(string name, int n, string formula) => Read(name, [n], formula);

        private float[] Read(string name, long[] expected, string formula)
        {
            var file = source.FileOf(name) ?? throw new ModelFormatException(
                $"{source.Path}: tensor '{name}' is missing (needed by {configPath}: {cfg.Describe()})");
            var info = file.Info(name);
            if (!info.Shape.SequenceEqual(expected))
                throw new ModelFormatException(
                    $"{file.Path}: tensor '{name}' has shape {info.ShapeText}, but {configPath} implies " +
                    $"[{string.Join(", ", expected)}] ({formula}; {cfg.Describe()})");
            float[] values = file.ReadF32(name, expected);
            int bad = Array.FindIndex(values, x => !float.IsFinite(x));
            if (bad >= 0)
                throw new ModelFormatException(
                    $"{file.Path}: tensor '{name}' holds a non-finite value ({values[bad].ToString(CultureInfo.InvariantCulture)}) at element {bad} (corrupt file)");
            return values;
        }

        /// <summary>
        /// A layer index at or past num_hidden_layers means config and weights disagree (the model would run with
        /// layers missing); bias tensors mean a variant whose biases we would silently drop. Both are errors.
        /// </summary>
        public void RejectUnusedLayersAndBiases()
        {
            foreach (string name in source.Names.Order(StringComparer.Ordinal))
            {
                if (name.StartsWith("model.layers.", StringComparison.Ordinal))
                {
                    string rest = name["model.layers.".Length..];
                    int dot = rest.IndexOf('.');
                    if (dot > 0 && int.TryParse(rest.AsSpan(0, dot), NumberStyles.None, CultureInfo.InvariantCulture, out int layer)
                        && layer >= cfg.NLayers)
                        throw new ModelFormatException(
                            $"{source.FileOf(name)!.Path}: holds tensor '{name}' of layer {layer}, but {configPath} sets num_hidden_layers to {cfg.NLayers}");
                }
                if (name.EndsWith(".bias", StringComparison.Ordinal) && name.StartsWith("model.", StringComparison.Ordinal))
                    throw new ModelFormatException(
                        $"{source.FileOf(name)!.Path}: tensor '{name}' is a bias; Llama checkpoints with biases are not supported");
            }
        }
    }
}
