using System.Text.Json;
using SpecEE.Core.Model;

namespace SpecEE.Core.Formats;

/// <summary>
/// Parses a Hugging Face <c>config.json</c> of a <c>LlamaForCausalLM</c> into a <see cref="LlamaConfig"/>.
/// Shape keys are required; numeric keys that transformers' LlamaConfig defaults are optional with the
/// same defaults (so a file transformers loads, loads here). Every error names the file and the key.
/// Features the engine does not implement (RoPE scaling, biases, another activation, a head_dim that is
/// not hidden_size / num_attention_heads) are rejected instead of silently producing wrong logits.
/// </summary>
internal static class HfConfigJson
{
    // transformers' LlamaConfig defaults for the optional keys.
    private const int DefaultMaxPositions = 2048;
    private const double DefaultNormEps = 1e-6;
    private const double DefaultRopeTheta = 10000.0;

    public static LlamaConfig Parse(string configPath)
    {
        byte[] bytes = ReadFile(configPath);
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(bytes);
        }
        catch (JsonException e)
        {
            throw new ModelFormatException($"{configPath}: not valid JSON ({e.Message})", e);
        }
        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
                throw new ModelFormatException($"{configPath}: expected a JSON object at the top level, found {root.ValueKind}");
            var keys = new Keys(configPath, root);
            return Build(configPath, keys);
        }
    }

    private static LlamaConfig Build(string configPath, Keys k)
    {
        string? modelType = k.OptionalString("model_type");
        if (modelType != null && modelType != "llama")
            throw k.Error("model_type", $"is \"{modelType}\"; only \"llama\" checkpoints are supported");
        string? act = k.OptionalString("hidden_act");
        if (act != null && act != "silu")
            throw k.Error("hidden_act", $"is \"{act}\"; only \"silu\" (SwiGLU) is supported");
        if (k.OptionalBool("attention_bias", false))
            throw k.Error("attention_bias", "is true; attention projections with bias are not supported");
        if (k.OptionalBool("mlp_bias", false))
            throw k.Error("mlp_bias", "is true; MLP projections with bias are not supported");

        int dim = k.PositiveInt("hidden_size");
        int hidden = k.PositiveInt("intermediate_size");
        int layers = k.PositiveInt("num_hidden_layers");
        int heads = k.PositiveInt("num_attention_heads");
        int kvHeads = k.IsPresent("num_key_value_heads") ? k.PositiveInt("num_key_value_heads") : heads;
        int vocab = k.PositiveInt("vocab_size");
        int maxSeq = k.IsPresent("max_position_embeddings") ? k.PositiveInt("max_position_embeddings") : DefaultMaxPositions;
        double eps = k.OptionalPositiveNumber("rms_norm_eps", DefaultNormEps);
        double theta = RopeTheta(k);
        bool tied = k.OptionalBool("tie_word_embeddings", false);

        if (dim % heads != 0)
            throw k.Error("hidden_size", $"({dim}) must be a multiple of num_attention_heads ({heads})");
        if (heads % kvHeads != 0)
            throw k.Error("num_key_value_heads", $"({kvHeads}) must divide num_attention_heads ({heads})");
        if (k.IsPresent("head_dim"))
        {
            int headDim = k.PositiveInt("head_dim");
            if (headDim != dim / heads)
                throw k.Error("head_dim", $"({headDim}) differs from hidden_size / num_attention_heads ({dim / heads}); decoupled head dims are not supported");
        }
        if (dim / heads % 2 != 0)
            throw k.Error("hidden_size", $"/ num_attention_heads = {dim / heads} must be even for RoPE");

        var cfg = new LlamaConfig
        {
            Dim = dim, HiddenDim = hidden, NLayers = layers, NHeads = heads, NKvHeads = kvHeads, Vocab = vocab,
            MaxSeq = maxSeq, NormEps = (float)eps, RopeTheta = (float)theta, TiedClassifier = tied,
            BosId = k.TokenId("bos_token_id", 1, vocab), EosId = k.TokenId("eos_token_id", 2, vocab),
        };
        cfg.Validate(configPath); // bounds (implausibly large dimensions) and anything the checks above missed
        return cfg;
    }

    /// <summary>
    /// Plain RoPE only. transformers 4.x writes <c>rope_theta</c> and <c>rope_scaling</c> (null or an object with
    /// rope_type/type); transformers 5 writes both inside <c>rope_parameters</c>, which wins when present.
    /// A "default" rope type is plain RoPE; any other type would change the frequencies, so it is refused.
    /// </summary>
    private static double RopeTheta(Keys k)
    {
        foreach (string key in new[] { "rope_scaling", "rope_parameters" })
        {
            if (!k.IsPresent(key)) continue;
            var sub = k.Object(key);
            string? type = sub.OptionalString("rope_type") ?? sub.OptionalString("type");
            if (type is not (null or "default"))
                throw k.Error(key, $"asks for RoPE type \"{type}\"; only plain RoPE (\"default\") is supported");
            if (key == "rope_scaling" && type == null)
                throw k.Error(key, "is set without a rope_type; RoPE scaling is not supported");
        }
        if (k.IsPresent("rope_parameters"))
        {
            var p = k.Object("rope_parameters");
            if (p.IsPresent("rope_theta")) return p.OptionalPositiveNumber("rope_theta", DefaultRopeTheta);
        }
        return k.OptionalPositiveNumber("rope_theta", DefaultRopeTheta);
    }

    private static byte[] ReadFile(string path)
    {
        if (!File.Exists(path)) throw new ModelFormatException($"{path}: file not found");
        try
        {
            return File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ModelFormatException($"{path}: cannot read ({e.Message})", e);
        }
    }

    /// <summary>Typed access to the top-level keys; JSON null counts as absent, as in transformers.</summary>
    private sealed class Keys(string path, JsonElement root, string prefix = "")
    {
        public ModelFormatException Error(string key, string what) => new($"{path}: key '{prefix}{key}' {what}");

        /// <summary>The keys of a nested object, reported as 'outer.inner'.</summary>
        public Keys Object(string key)
        {
            var v = Get(key);
            return v.ValueKind == JsonValueKind.Object
                ? new Keys(path, v, prefix + key + ".")
                : throw Error(key, $"must be an object, got {Show(v)}");
        }

        public bool IsPresent(string key) => root.TryGetProperty(key, out var v) && v.ValueKind != JsonValueKind.Null;

        private JsonElement Get(string key) => root.TryGetProperty(key, out var v) && v.ValueKind != JsonValueKind.Null
            ? v : throw Error(key, "is missing");

        public int PositiveInt(string key)
        {
            var v = Get(key);
            if (v.ValueKind != JsonValueKind.Number || !v.TryGetInt64(out long n))
                throw Error(key, $"must be an integer, got {Show(v)}");
            if (n <= 0) throw Error(key, $"must be positive, got {n}");
            if (n > int.MaxValue) throw Error(key, $"is implausibly large ({n})");
            return (int)n;
        }

        public double OptionalPositiveNumber(string key, double fallback)
        {
            if (!IsPresent(key)) return fallback;
            var v = Get(key);
            if (v.ValueKind != JsonValueKind.Number || !v.TryGetDouble(out double x))
                throw Error(key, $"must be a number, got {Show(v)}");
            if (!(x > 0) || !double.IsFinite(x) || (float)x == 0 || !float.IsFinite((float)x))
                throw Error(key, $"must be a positive finite number, got {x}");
            return x;
        }

        public bool OptionalBool(string key, bool fallback)
        {
            if (!IsPresent(key)) return fallback;
            var v = Get(key);
            return v.ValueKind switch
            {
                JsonValueKind.True => true,
                JsonValueKind.False => false,
                _ => throw Error(key, $"must be true or false, got {Show(v)}"),
            };
        }

        public string? OptionalString(string key)
        {
            if (!IsPresent(key)) return null;
            var v = Get(key);
            return v.ValueKind == JsonValueKind.String ? v.GetString() : throw Error(key, $"must be a string, got {Show(v)}");
        }

        /// <summary>A token id, or a list of ids (newer configs list several EOS ids; the first is the primary one).</summary>
        public int TokenId(string key, int fallback, int vocab)
        {
            if (!IsPresent(key)) return fallback;
            var v = Get(key);
            if (v.ValueKind == JsonValueKind.Array && v.GetArrayLength() > 0) v = v[0];
            if (v.ValueKind != JsonValueKind.Number || !v.TryGetInt32(out int id))
                throw Error(key, $"must be an integer token id, got {Show(v)}");
            if (id < 0 || id >= vocab) throw Error(key, $"({id}) is outside the vocabulary [0, {vocab})");
            return id;
        }

        private static string Show(JsonElement v)
        {
            string raw = v.GetRawText();
            return (raw.Length > 40 ? raw[..40] + "…" : raw) + $" ({v.ValueKind.ToString().ToLowerInvariant()})";
        }
    }
}
