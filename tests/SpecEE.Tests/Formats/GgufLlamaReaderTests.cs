using System.Text.Json;
using SpecEE.Core;
using SpecEE.Core.Formats;
using SpecEE.Core.Model;

namespace SpecEE.Tests.Formats;

/// <summary>
/// llama.cpp's GGUF conversions of tinystories-16L (F32, F16, Q8_0) against the HF safetensors they were made
/// from. The reference side is computed here independently: HF names, HF rotate-half Q/K rows permuted to the
/// interleaved order by the formula in the brief, fp16 rounding, and the Q8_0 error bound from the format.
/// </summary>
public class GgufLlamaReaderTests
{
    private static SafetensorsFile? _reference;
    private static SafetensorsFile Reference => _reference ??= SafetensorsFile.Open(Path.Combine(TestPaths.DefaultModelDir, "model.safetensors"));

    /// <summary>The f32 conversion is 13 MB, so it is not in tests/fixtures; it sits in ../shared beside a CI clone.</summary>
    private static string? SharedF32Gguf()
    {
        const string rel = "shared/models/tinystories-16L/tinystories-16L-f32.gguf";
        // A CI clone has ../shared beside it; a development worktree (wt/<name>) sits one level deeper.
        foreach (string up in new[] { "..", Path.Combine("..", "..") })
        {
            string p = Path.GetFullPath(Path.Combine(TestPaths.RepoRoot, up, rel));
            if (File.Exists(p)) return p;
        }
        return null;
    }

    [Test]
    public void F16_ConfigMatchesHfConfigJson()
    {
        var model = GgufLlamaReader.Load(TestPaths.Fixture("tinystories-16L-f16.gguf"));
        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(TestPaths.DefaultModelDir, "config.json")));
        var hf = json.RootElement;
        var c = model.Config;
        Assert.That(model.Format, Is.EqualTo("gguf"));
        Assert.That(c.Dim, Is.EqualTo(hf.GetProperty("hidden_size").GetInt32()));
        Assert.That(c.HiddenDim, Is.EqualTo(hf.GetProperty("intermediate_size").GetInt32()));
        Assert.That(c.NLayers, Is.EqualTo(hf.GetProperty("num_hidden_layers").GetInt32()));
        Assert.That(c.NHeads, Is.EqualTo(hf.GetProperty("num_attention_heads").GetInt32()));
        Assert.That(c.NKvHeads, Is.EqualTo(hf.GetProperty("num_key_value_heads").GetInt32()));
        Assert.That(c.Vocab, Is.EqualTo(hf.GetProperty("vocab_size").GetInt32()));
        Assert.That(c.MaxSeq, Is.EqualTo(hf.GetProperty("max_position_embeddings").GetInt32()));
        Assert.That(c.NormEps, Is.EqualTo((float)hf.GetProperty("rms_norm_eps").GetDouble()));
        Assert.That(c.RopeTheta, Is.EqualTo((float)hf.GetProperty("rope_theta").GetDouble()));
        Assert.That(c.TiedClassifier, Is.EqualTo(hf.GetProperty("tie_word_embeddings").GetBoolean()));
        Assert.That(c.BosId, Is.EqualTo(hf.GetProperty("bos_token_id").GetInt32()));
        Assert.That(c.EosId, Is.EqualTo(hf.GetProperty("eos_token_id").GetInt32()));
    }

    [Test]
    public void F16_WeightsEqualHalfRoundedSafetensors() => CompareWithReference(TestPaths.Fixture("tinystories-16L-f16.gguf"));

    [Test]
    public void Q8_0_WeightsWithinQ8_0ErrorBoundOfSafetensors() => CompareWithReference(TestPaths.Fixture("tinystories-16L-q8_0.gguf"));

    [Test]
    public void F32_WeightsEqualSafetensorsExactly()
    {
        string? path = SharedF32Gguf();
        if (path == null)
            Assert.Ignore("tinystories-16L-f32.gguf (13 MB) is not in tests/fixtures and no ../shared/models copy was found beside the repository");
        CompareWithReference(path);
    }

    [Test]
    public void ModelLoader_DispatchesOnTheGgufMagic_NotTheExtension()
    {
        string renamed = TestPaths.TempFile("weights.bin");
        File.Copy(TestPaths.Fixture("tinystories-16L-q8_0.gguf"), renamed);
        var viaLoader = ModelLoader.Load(renamed);
        var direct = GgufLlamaReader.Load(TestPaths.Fixture("tinystories-16L-q8_0.gguf"));
        Assert.That(viaLoader.Format, Is.EqualTo("gguf"));
        Assert.That(viaLoader.SourcePath, Is.EqualTo(renamed));
        Assert.That(viaLoader.Config, Is.EqualTo(direct.Config));
        Assert.That(viaLoader.Weights.Layers[7].Wk, Is.EqualTo(direct.Weights.Layers[7].Wk));

        string notGguf = TestPaths.TempFile("model.gguf");
        File.WriteAllBytes(notGguf, new byte[64]);
        Assert.That(() => ModelLoader.Load(notGguf), Throws.TypeOf<ModelFormatException>()
            .With.Message.EqualTo($"{notGguf}: not a GGUF file: the first 4 bytes are 00 00 00 00, expected \"GGUF\" (47 47 55 46)"));
    }

    /// <summary>
    /// Loads <paramref name="ggufPath"/> and checks every weight against the safetensors reference, by the storage
    /// type of that tensor in the GGUF: F32 exactly, F16 exactly equal to the fp16-rounded reference, Q8_0 within
    /// the per-block bound.
    /// </summary>
    private static void CompareWithReference(string ggufPath)
    {
        var gguf = GgufFile.Open(ggufPath);
        var model = GgufLlamaReader.Load(gguf);
        var c = model.Config;
        var w = model.Weights;
        Assert.That(c.TiedClassifier, Is.False, "tinystories-16L has an untied lm_head, so output.weight must be present");
        var pairs = new List<(string Gguf, float[] Loaded, float[] Ref)>
        {
            ("token_embd.weight", w.TokenEmbedding, Ref("model.embed_tokens.weight", c.Vocab, c.Dim)),
            ("output_norm.weight", w.FinalNorm, Ref("model.norm.weight", c.Dim)),
            ("output.weight", w.Classifier, Ref("lm_head.weight", c.Vocab, c.Dim)),
        };
        for (int l = 0; l < c.NLayers; l++)
        {
            string hf = $"model.layers.{l}.", g = $"blk.{l}.";
            var lw = w.Layers[l];
            pairs.Add((g + "attn_norm.weight", lw.AttnNorm, Ref(hf + "input_layernorm.weight", c.Dim)));
            pairs.Add((g + "attn_q.weight", lw.Wq, HfToInterleaved(Ref(hf + "self_attn.q_proj.weight", c.Dim, c.Dim), c.NHeads, c.HeadDim, c.Dim)));
            pairs.Add((g + "attn_k.weight", lw.Wk, HfToInterleaved(Ref(hf + "self_attn.k_proj.weight", c.KvDim, c.Dim), c.NKvHeads, c.HeadDim, c.Dim)));
            pairs.Add((g + "attn_v.weight", lw.Wv, Ref(hf + "self_attn.v_proj.weight", c.KvDim, c.Dim)));
            pairs.Add((g + "attn_output.weight", lw.Wo, Ref(hf + "self_attn.o_proj.weight", c.Dim, c.Dim)));
            pairs.Add((g + "ffn_norm.weight", lw.FfnNorm, Ref(hf + "post_attention_layernorm.weight", c.Dim)));
            pairs.Add((g + "ffn_gate.weight", lw.W1, Ref(hf + "mlp.gate_proj.weight", c.HiddenDim, c.Dim)));
            pairs.Add((g + "ffn_down.weight", lw.W2, Ref(hf + "mlp.down_proj.weight", c.Dim, c.HiddenDim)));
            pairs.Add((g + "ffn_up.weight", lw.W3, Ref(hf + "mlp.up_proj.weight", c.HiddenDim, c.Dim)));
        }
        Assert.That(pairs.Select(p => p.Gguf), Is.EquivalentTo(gguf.Tensors.Select(t => t.Name)), "every GGUF tensor is compared once");
        foreach (var (name, loaded, reference) in pairs)
        {
            Assert.That(loaded, Has.Length.EqualTo(reference.Length), name);
            string? mismatch = gguf.Tensor(name).Type switch
            {
                GgmlType.F32 => FirstMismatch(loaded, reference, (x, r, _) => x == r),
                GgmlType.F16 => FirstMismatch(loaded, reference, (x, r, _) => x == (float)(Half)r),
                GgmlType.Q8_0 => FirstMismatch(loaded, reference, (x, r, bound) => Math.Abs(x - r) <= bound, Q8_0Bounds(reference)),
                var t => $"unexpected storage type {t}",
            };
            Assert.That(mismatch, Is.Null, $"{Path.GetFileName(ggufPath)} tensor {name} ({gguf.Tensor(name).Type})");
        }
    }

    private static float[] Ref(string name, params long[] shape) => Reference.ReadF32(name, shape);

    /// <summary>
    /// HF rotate-half rows → interleaved-pair rows, per the brief:
    /// meta_row[h·hd + 2i + j] = hf_row[h·hd + j·hd/2 + i] for j ∈ {0, 1}, i &lt; hd/2.
    /// </summary>
    internal static float[] HfToInterleaved(float[] hf, int heads, int headDim, int cols)
    {
        var meta = new float[hf.Length];
        for (int h = 0; h < heads; h++)
            for (int i = 0; i < headDim / 2; i++)
                for (int j = 0; j < 2; j++)
                    hf.AsSpan((h * headDim + j * headDim / 2 + i) * cols, cols)
                      .CopyTo(meta.AsSpan((h * headDim + 2 * i + j) * cols, cols));
        return meta;
    }

    /// <summary>
    /// Per-element bound for Q8_0 (blocks of 32 consecutive values): the converter takes d = amax/127 in fp32,
    /// q = round(x/d), and stores d as fp16, so |x − fp16(d)·q| ≤ d/2 + 127·|d − fp16(d)|, plus float slack.
    /// </summary>
    private static float[] Q8_0Bounds(float[] reference)
    {
        var bounds = new float[reference.Length];
        for (int b = 0; b < reference.Length; b += 32)
        {
            float amax = 0;
            for (int i = b; i < b + 32; i++) amax = Math.Max(amax, Math.Abs(reference[i]));
            float d = amax / 127f, d16 = (float)(Half)d;
            float bound = d / 2 + 127 * Math.Abs(d - d16) + 1e-6f * amax;
            bounds.AsSpan(b, 32).Fill(bound);
        }
        return bounds;
    }

    private static string? FirstMismatch(float[] x, float[] r, Func<float, float, float, bool> ok, float[]? bounds = null)
    {
        for (int i = 0; i < x.Length; i++)
            if (!ok(x[i], r[i], bounds?[i] ?? 0))
                return $"first mismatch at element {i}: got {x[i]:R}, reference {r[i]:R}" + (bounds != null ? $", bound {bounds[i]:R}" : "");
        return null;
    }
}
