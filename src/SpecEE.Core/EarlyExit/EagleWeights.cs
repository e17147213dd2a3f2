using System.Text.Json;
using SpecEE.Core.Formats;
using SpecEE.Core.Model;

namespace SpecEE.Core.EarlyExit;

/// <summary>
/// Weights of an EAGLE-1 draft head (Li et al., 2024; the head SpecEE takes its 4 candidates from), fp32:
/// <c>embed_tokens</c> [vocab, dim] (a frozen copy of the base embedding), <c>fc</c> [dim, 2·dim] (+ bias [dim])
/// on concat(embedding of the token, base feature) — embedding first — and one Llama decoder layer without
/// input_layernorm and without a final norm; the base model's LM head turns its output into logits.
/// Q/K rows are permuted from HF's rotate-half layout to the engine's interleaved pairs at load, as for base models.
/// </summary>
public sealed class EagleWeights
{
    /// <summary>The head's shape (NLayers = 1) from <c>eagle_config.json</c>.</summary>
    public required LlamaConfig Config { get; init; }
    /// <summary>[vocab, dim]</summary>
    public required float[] Embedding { get; init; }
    /// <summary>[dim, 2·dim]: columns 0..dim−1 multiply the token embedding, dim..2·dim−1 the feature.</summary>
    public required float[] FcWeight { get; init; }
    /// <summary>[dim], or null when the head was trained without it.</summary>
    public required float[]? FcBias { get; init; }
    /// <summary>[nHeads·headDim, dim], interleaved-pair RoPE row order.</summary>
    public required float[] Wq { get; init; }
    /// <summary>[kvDim, dim], interleaved-pair RoPE row order.</summary>
    public required float[] Wk { get; init; }
    /// <summary>[kvDim, dim]</summary>
    public required float[] Wv { get; init; }
    /// <summary>[dim, nHeads·headDim]</summary>
    public required float[] Wo { get; init; }
    /// <summary>post_attention_layernorm [dim] (the only norm in the head).</summary>
    public required float[] PostAttnNorm { get; init; }
    /// <summary>gate [hiddenDim, dim]</summary>
    public required float[] W1 { get; init; }
    /// <summary>down [dim, hiddenDim]</summary>
    public required float[] W2 { get; init; }
    /// <summary>up [hiddenDim, dim]</summary>
    public required float[] W3 { get; init; }

    /// <summary>Loads <c>eagle.safetensors</c> and <c>eagle_config.json</c> from a model directory.</summary>
    public static EagleWeights LoadDirectory(string directory) =>
        Load(Path.Combine(directory, "eagle_config.json"), Path.Combine(directory, "eagle.safetensors"));

    /// <summary>Loads an EAGLE-1 head; errors name the file, the tensor and the expected shape.</summary>
    public static EagleWeights Load(string configPath, string safetensorsPath)
    {
        var cfg = HfConfigJson.Parse(configPath);
        if (cfg.NLayers != 1)
            throw new ModelFormatException($"{configPath}: num_hidden_layers is {cfg.NLayers}; an EAGLE-1 head has exactly 1 decoder layer");
        bool? wantsBias = ReadBiasKey(configPath);
        var file = SafetensorsFile.Open(safetensorsPath);

        var known = new HashSet<string>(StringComparer.Ordinal)
        {
            "embed_tokens.weight", "fc.weight", "fc.bias",
            "layers.0.self_attn.q_proj.weight", "layers.0.self_attn.k_proj.weight", "layers.0.self_attn.v_proj.weight",
            "layers.0.self_attn.o_proj.weight", "layers.0.post_attention_layernorm.weight",
            "layers.0.mlp.gate_proj.weight", "layers.0.mlp.up_proj.weight", "layers.0.mlp.down_proj.weight",
            // EAGLE-1's module owns an input_layernorm but skips it for layer 0 (cnets.py: `if self.index != 0`);
            // checkpoints that carry it are fine, the values are unused.
            "layers.0.input_layernorm.weight",
        };
        foreach (string name in file.Names)
            if (!known.Contains(name))
                throw new ModelFormatException($"{safetensorsPath}: unexpected tensor '{name}' for a 1-layer EAGLE-1 head " +
                    "(attention biases, extra layers or a final norm are not part of EAGLE-1)");

        int dim = cfg.Dim, qDim = cfg.NHeads * cfg.HeadDim, kvDim = cfg.KvDim, hid = cfg.HiddenDim;
        float[] Read(string name, params long[] shape)
        {
            if (!file.Contains(name))
                throw new ModelFormatException($"{safetensorsPath}: tensor '{name}' is missing (EAGLE-1 head, {cfg.Describe()})");
            var info = file.Info(name);
            if (!info.Shape.SequenceEqual(shape))
                throw new ModelFormatException($"{safetensorsPath}: tensor '{name}' has shape {info.ShapeText}, but {configPath} " +
                    $"implies [{string.Join(", ", shape)}] ({cfg.Describe()})");
            var v = file.ReadF32(name, shape);
            int bad = Array.FindIndex(v, x => !float.IsFinite(x));
            if (bad >= 0) throw new ModelFormatException($"{safetensorsPath}: tensor '{name}' holds a non-finite value at element {bad}");
            return v;
        }

        bool hasBias = file.Contains("fc.bias");
        if (wantsBias is bool b && b != hasBias)
            throw new ModelFormatException(b
                ? $"{safetensorsPath}: tensor 'fc.bias' is missing, but {configPath} sets \"bias\": true"
                : $"{safetensorsPath}: holds 'fc.bias', but {configPath} sets \"bias\": false");
        const string p = "layers.0.";
        return new EagleWeights
        {
            Config = cfg,
            Embedding = Read("embed_tokens.weight", cfg.Vocab, dim),
            FcWeight = Read("fc.weight", dim, 2 * dim),
            FcBias = hasBias ? Read("fc.bias", dim) : null,
            Wq = HfLlamaReader.RotateHalfToInterleavedRows(Read(p + "self_attn.q_proj.weight", qDim, dim), cfg.NHeads, cfg.HeadDim, dim),
            Wk = HfLlamaReader.RotateHalfToInterleavedRows(Read(p + "self_attn.k_proj.weight", kvDim, dim), cfg.NKvHeads, cfg.HeadDim, dim),
            Wv = Read(p + "self_attn.v_proj.weight", kvDim, dim),
            Wo = Read(p + "self_attn.o_proj.weight", dim, qDim),
            PostAttnNorm = Read(p + "post_attention_layernorm.weight", dim),
            W1 = Read(p + "mlp.gate_proj.weight", hid, dim),
            W2 = Read(p + "mlp.down_proj.weight", dim, hid),
            W3 = Read(p + "mlp.up_proj.weight", hid, dim),
        };
    }

    /// <summary>Checks that the head fits a base model: same width and vocabulary (it borrows the base LM head).</summary>
    public void CheckCompatible(LlamaConfig baseConfig, string baseSource)
    {
        if (Config.Dim != baseConfig.Dim || Config.Vocab != baseConfig.Vocab)
            throw new ModelFormatException($"EAGLE head (dim {Config.Dim}, vocab {Config.Vocab}) does not fit the base model {baseSource} " +
                $"(dim {baseConfig.Dim}, vocab {baseConfig.Vocab})");
    }

    // EAGLE's config has "bias": true/false for the fc layer (not a transformers key, so HfConfigJson ignores it).
    private static bool? ReadBiasKey(string configPath)
    {
        using var doc = JsonDocument.Parse(File.ReadAllBytes(configPath));
        if (!doc.RootElement.TryGetProperty("bias", out var v)) return null;
        return v.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            JsonValueKind.Null => null,
            _ => throw new ModelFormatException($"{configPath}: key 'bias' must be true or false"),
        };
    }
}
