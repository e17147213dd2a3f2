using System.Text.Json;
using SpecEE.Core.Formats;
using SpecEE.Core.Model;

namespace SpecEE.Tests.Formats;

public class HfLlamaReaderTests
{
    private readonly FormatTestFiles _files = new();

    [TearDown]
    public void TearDown() => _files.Cleanup();

    private static string ConfigPath => Path.Combine(TestPaths.DefaultModelDir, "config.json");
    private static string WeightsPath => Path.Combine(TestPaths.DefaultModelDir, "model.safetensors");

    [Test]
    public void TinyStories16L_ConfigEqualsItsConfigJson()
    {
        var model = ModelLoader.Load(TestPaths.DefaultModelDir);

        using var json = JsonDocument.Parse(File.ReadAllText(ConfigPath));
        var j = json.RootElement;
        var c = model.Config;
        Assert.Multiple(() =>
        {
            Assert.That(c.Dim, Is.EqualTo(j.GetProperty("hidden_size").GetInt32()).And.EqualTo(128));
            Assert.That(c.HiddenDim, Is.EqualTo(j.GetProperty("intermediate_size").GetInt32()).And.EqualTo(384));
            Assert.That(c.NLayers, Is.EqualTo(j.GetProperty("num_hidden_layers").GetInt32()).And.EqualTo(16));
            Assert.That(c.NHeads, Is.EqualTo(j.GetProperty("num_attention_heads").GetInt32()).And.EqualTo(4));
            Assert.That(c.NKvHeads, Is.EqualTo(j.GetProperty("num_key_value_heads").GetInt32()).And.EqualTo(2));
            Assert.That(c.Vocab, Is.EqualTo(j.GetProperty("vocab_size").GetInt32()).And.EqualTo(512));
            Assert.That(c.MaxSeq, Is.EqualTo(j.GetProperty("max_position_embeddings").GetInt32()));
            Assert.That(c.NormEps, Is.EqualTo((float)j.GetProperty("rms_norm_eps").GetDouble()));
            Assert.That(c.RopeTheta, Is.EqualTo((float)j.GetProperty("rope_theta").GetDouble()));
            Assert.That(c.TiedClassifier, Is.EqualTo(j.GetProperty("tie_word_embeddings").GetBoolean()).And.False);
            Assert.That(c.BosId, Is.EqualTo(j.GetProperty("bos_token_id").GetInt32()));
            Assert.That(c.EosId, Is.EqualTo(j.GetProperty("eos_token_id").GetInt32()));
            Assert.That(c.HeadDim, Is.EqualTo(32));
            Assert.That(model.Format, Is.EqualTo("safetensors"));
            Assert.That(model.SourcePath, Is.EqualTo(WeightsPath));
            Assert.That(model.Weights.Layers, Has.Length.EqualTo(16));
            Assert.That(model.Weights.Classifier, Is.Not.SameAs(model.Weights.TokenEmbedding));
        });
    }

    [Test]
    public void TinyStories16L_NonRopeTensorsAreStoredRowsUnchanged()
    {
        var model = ModelLoader.Load(TestPaths.DefaultModelDir);
        var raw = SafetensorsFile.Open(WeightsPath);
        var l7 = model.Weights.Layers[7];
        Assert.Multiple(() =>
        {
            AssertSameValues(model.Weights.TokenEmbedding, raw.ReadF32("model.embed_tokens.weight", 512, 128), "model.Weights.TokenEmbedding");
            AssertSameValues(model.Weights.Classifier, raw.ReadF32("lm_head.weight", 512, 128), "model.Weights.Classifier");
            AssertSameValues(model.Weights.FinalNorm, raw.ReadF32("model.norm.weight", 128), "model.Weights.FinalNorm");
            AssertSameValues(l7.Wv, raw.ReadF32("model.layers.7.self_attn.v_proj.weight", 64, 128), "l7.Wv");
            AssertSameValues(l7.Wo, raw.ReadF32("model.layers.7.self_attn.o_proj.weight", 128, 128), "l7.Wo");
            AssertSameValues(l7.W1, raw.ReadF32("model.layers.7.mlp.gate_proj.weight", 384, 128), "l7.W1");
            AssertSameValues(l7.W2, raw.ReadF32("model.layers.7.mlp.down_proj.weight", 128, 384), "l7.W2");
            AssertSameValues(l7.W3, raw.ReadF32("model.layers.7.mlp.up_proj.weight", 384, 128), "l7.W3");
            AssertSameValues(l7.AttnNorm, raw.ReadF32("model.layers.7.input_layernorm.weight", 128), "l7.AttnNorm");
            AssertSameValues(l7.FfnNorm, raw.ReadF32("model.layers.7.post_attention_layernorm.weight", 128), "l7.FfnNorm");
        });
    }

    /// <summary>
    /// The permutation is right exactly when interleaved RoPE on the permuted rows gives the same attention
    /// scores as HF's rotate-half RoPE on the stored rows, for every q head / kv head pair and positions.
    /// A wrong pairing rotates some dimensions at the wrong frequency and changes the scores.
    /// </summary>
    [TestCase(0), TestCase(5), TestCase(15)]
    public void TinyStories16L_QkPermutation_PreservesRotateHalfAttentionScores(int layer)
    {
        var model = ModelLoader.Load(TestPaths.DefaultModelDir);
        var raw = SafetensorsFile.Open(WeightsPath);
        var c = model.Config;
        int hd = c.HeadDim;
        float[] wqHf = raw.ReadF32($"model.layers.{layer}.self_attn.q_proj.weight", 128, 128);
        float[] wkHf = raw.ReadF32($"model.layers.{layer}.self_attn.k_proj.weight", 64, 128);
        var rng = new Random(1234 + layer);
        double[] x1 = Enumerable.Range(0, c.Dim).Select(_ => rng.NextDouble() * 2 - 1).ToArray();
        double[] x2 = Enumerable.Range(0, c.Dim).Select(_ => rng.NextDouble() * 2 - 1).ToArray();

        foreach (var (posQ, posK) in new[] { (0, 0), (3, 1), (17, 9), (200, 37), (511, 0) })
        {
            var qHf = NaiveLlamaReference.RopeRotateHalf(NaiveLlamaReference.MatVec(wqHf, x1, 128), posQ, hd, c.RopeTheta);
            var kHf = NaiveLlamaReference.RopeRotateHalf(NaiveLlamaReference.MatVec(wkHf, x2, 64), posK, hd, c.RopeTheta);
            var qMeta = NaiveLlamaReference.Rope(NaiveLlamaReference.MatVec(model.Weights.Layers[layer].Wq, x1, 128), posQ, hd, c.RopeTheta);
            var kMeta = NaiveLlamaReference.Rope(NaiveLlamaReference.MatVec(model.Weights.Layers[layer].Wk, x2, 64), posK, hd, c.RopeTheta);
            for (int h = 0; h < c.NHeads; h++)
                for (int kvh = 0; kvh < c.NKvHeads; kvh++)
                {
                    double hf = 0, meta = 0;
                    for (int i = 0; i < hd; i++)
                    {
                        hf += qHf[h * hd + i] * kHf[kvh * hd + i];
                        meta += qMeta[h * hd + i] * kMeta[kvh * hd + i];
                    }
                    Assert.That(meta, Is.EqualTo(hf).Within(1e-9 + 1e-9 * Math.Abs(hf)),
                        $"layer {layer}, q head {h}, kv head {kvh}, positions {posQ}/{posK}");
                }
        }
    }

    [Test]
    public void RotateHalfToInterleavedRows_HandComputedCase()
    {
        // 2 heads of headDim 4, one column: row r holds value r. HF pairs (0,2),(1,3) per head become (0,1),(2,3).
        float[] rows = [0, 1, 2, 3, 4, 5, 6, 7];
        float[] permuted = HfLlamaReader.RotateHalfToInterleavedRows(rows, nHeads: 2, headDim: 4, cols: 1);
        Assert.That(permuted, Is.EqualTo(new float[] { 0, 2, 1, 3, 4, 6, 5, 7 }));
    }

    [Test]
    public void TinyStories16L_LogitsMatchPyTorchReference()
    {
        // Independent check of the whole mapping (which tensor is gate/up/down, norms, lm_head, Q/K order):
        // a naive fp64 forward on the loaded weights must reproduce the PyTorch reference logits.
        var model = ModelLoader.Load(TestPaths.DefaultModelDir);
        using var reference = JsonDocument.Parse(File.ReadAllText(TestPaths.Fixture("tinystories-16L_reference.json")));
        AssertLogitsMatch(model, reference.RootElement);
    }

    [Test]
    public void Transformers5RopeParameters_ThetaIsReadFromThere()
    {
        string dir = _files.CopyHfModelWithConfig(c =>
        {
            c.Remove("rope_theta");
            c["rope_scaling"] = null;
            c["rope_parameters"] = new System.Text.Json.Nodes.JsonObject { ["rope_type"] = "default", ["rope_theta"] = 20000.0 };
            c["eos_token_id"] = new System.Text.Json.Nodes.JsonArray(2, 7); // newer configs list several EOS ids
        });
        var c = ModelLoader.Load(dir).Config;
        Assert.That(c.RopeTheta, Is.EqualTo(20000f));
        Assert.That(c.EosId, Is.EqualTo(2));
    }

    [Test]
    public void OptionalKeysMissing_TakeTransformersDefaults()
    {
        string[] optional = ["max_position_embeddings", "rms_norm_eps", "rope_theta", "bos_token_id", "eos_token_id", "model_type", "hidden_act"];
        string dir = _files.CopyHfModelWithConfig(c => { foreach (string k in optional) c.Remove(k); });
        var c = ModelLoader.Load(dir).Config;
        // transformers' LlamaConfig defaults: 2048 positions, eps 1e-6, theta 10000, BOS 1, EOS 2.
        Assert.That((c.MaxSeq, c.NormEps, c.RopeTheta, c.BosId, c.EosId), Is.EqualTo((2048, 1e-6f, 10000f, 1, 2)));
    }

    [Test]
    public void TiedConfig_WithoutLmHead_SharesTheEmbedding()
    {
        string dir = _files.CopyHfModelWithHeader(h => h.Remove("lm_head.weight"));
        string config = Path.Combine(dir, "config.json");
        File.WriteAllText(config, File.ReadAllText(config).Replace("\"tie_word_embeddings\": false", "\"tie_word_embeddings\": true"));

        var model = ModelLoader.Load(dir);
        Assert.That(model.Config.TiedClassifier, Is.True);
        Assert.That(model.Weights.Classifier, Is.SameAs(model.Weights.TokenEmbedding));
    }

    [Test]
    public void HalfPrecisionCheckpoint_LoadsAsTheRoundedValues()
    {
        // Rewrite every tensor as F16 (and one as BF16) with an independent converter; the reader must widen them.
        string dir = _files.CopyHfModel();
        string path = Path.Combine(dir, "model.safetensors");
        var (header, data) = FormatTestFiles.Safetensors.Split(File.ReadAllBytes(path));
        var outData = new List<byte>();
        foreach (var (name, node) in header.ToList())
        {
            if (name == "__metadata__") continue;
            var offs = node!["data_offsets"]!.AsArray();
            int begin = (int)offs[0]!, end = (int)offs[1]!;
            bool bf16 = name == "model.norm.weight";
            int newBegin = outData.Count;
            for (int i = begin; i < end; i += 4)
            {
                float f = BitConverter.ToSingle(data, i);
                ushort bits = bf16 ? (ushort)(BitConverter.SingleToInt32Bits(f) >> 16) : BitConverter.HalfToUInt16Bits((Half)f);
                outData.Add((byte)bits);
                outData.Add((byte)(bits >> 8));
            }
            node["dtype"] = bf16 ? "BF16" : "F16";
            node["data_offsets"] = new System.Text.Json.Nodes.JsonArray(newBegin, outData.Count);
        }
        File.WriteAllBytes(path, FormatTestFiles.Safetensors.Join(header, outData.ToArray()));

        var half = ModelLoader.Load(dir);
        var full = ModelLoader.Load(TestPaths.DefaultModelDir);
        AssertSameValues(half.Weights.Layers[3].W2, full.Weights.Layers[3].W2.Select(f => (float)(Half)f).ToArray(), "layer 3 w2 (F16)");
        AssertSameValues(half.Weights.Layers[3].Wq, full.Weights.Layers[3].Wq.Select(f => (float)(Half)f).ToArray(), "layer 3 wq (F16)");
        AssertSameValues(half.Weights.FinalNorm, full.Weights.FinalNorm
            .Select(f => BitConverter.Int32BitsToSingle(BitConverter.SingleToInt32Bits(f) & unchecked((int)0xFFFF0000))).ToArray(), "final norm (BF16)");
    }

    /// <summary>Bitwise-equal arrays; reports the first differing element (NUnit's collection compare is slow on 64k floats).</summary>
    internal static void AssertSameValues(float[] got, float[] want, string what)
    {
        Assert.That(got, Has.Length.EqualTo(want.Length), what);
        int bad = Enumerable.Range(0, want.Length).FirstOrDefault(i => BitConverter.SingleToInt32Bits(got[i]) != BitConverter.SingleToInt32Bits(want[i]), -1);
        Assert.That(bad, Is.EqualTo(-1), bad < 0 ? what : $"{what}: element {bad} is {got[bad]}, expected {want[bad]}");
    }

    /// <summary>Position-0 and last-position logits of the fixture prompt against the reference, within fp32 noise.</summary>
    internal static void AssertLogitsMatch(LlamaModel model, JsonElement reference)
    {
        int[] prompt = reference.GetProperty("prompt_ids_with_bos").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        double[] first = reference.GetProperty("prompt_position0_logits").EnumerateArray().Select(e => e.GetDouble()).ToArray();
        double[] last = reference.GetProperty("prompt_last_position_logits").EnumerateArray().Select(e => e.GetDouble()).ToArray();
        double[] gotFirst = NaiveLlamaReference.LastLogits(model, prompt[..1]);
        double[] gotLast = NaiveLlamaReference.LastLogits(model, prompt);
        for (int i = 0; i < first.Length; i++)
        {
            Assert.That(gotFirst[i], Is.EqualTo(first[i]).Within(2e-4 + 1e-5 * Math.Abs(first[i])), $"position 0, logit {i}");
            Assert.That(gotLast[i], Is.EqualTo(last[i]).Within(2e-4 + 1e-5 * Math.Abs(last[i])), $"last position, logit {i}");
        }
    }
}
