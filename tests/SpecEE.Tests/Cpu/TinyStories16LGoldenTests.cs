using System.Text.Json;
using SpecEE.Core.Formats;
using SpecEE.Core.Model;
using SpecEE.Core.Sampling;
using SpecEE.Core.Text;
using SpecEE.Cpu;

namespace SpecEE.Tests.Cpu;

/// <summary>
/// tinystories-16L (HF safetensors, untied lm_head, GQA 4q/2kv, rotate-half Q/K permuted at load) against the
/// fp32 PyTorch reference in tests/fixtures/tinystories-16L_reference.json.
/// </summary>
public class TinyStories16LGoldenTests
{
    private static LlamaModel _model = null!;
    private static JsonElement _ref;
    private static int[] _prompt = [];

    [OneTimeSetUp]
    public void Load()
    {
        _model = ModelLoader.Load(TestPaths.DefaultModelDir);
        _ref = JsonDocument.Parse(File.ReadAllText(TestPaths.Fixture("tinystories-16L_reference.json"))).RootElement;
        _prompt = Stories260KGoldenTests.Ints(_ref, "prompt_ids_with_bos");
    }

    /// <summary>Prefill the prompt, then greedy steps; returns the continuation only (without the prompt).</summary>
    private static int[] GreedyContinuation(LlamaModel model, int count)
    {
        using var llama = new CpuLlama(model);
        var ids = new List<int> { Sampler.Argmax(llama.Prefill(_prompt, 0)) };
        for (int pos = _prompt.Length; ids.Count < count; pos++) ids.Add(Sampler.Argmax(llama.Forward(ids[^1], pos)));
        return ids.ToArray();
    }

    [Test]
    public void Greedy128AfterPrompt_EqualsReferenceIds()
    {
        // greedy_128_ids is the continuation alone: greedy_128_text = prompt text + its decoding, and
        // its first id is the argmax at the last prompt position (the final entry of prompt_last_position_layer_argmax).
        int[] expected = Stories260KGoldenTests.Ints(_ref, "greedy_128_ids");
        Assert.That(expected, Has.Length.EqualTo(128));
        Assert.That(GreedyContinuation(_model, expected.Length), Is.EqualTo(expected));
    }

    [Test]
    public void PromptLogits_MatchReference()
    {
        using var llama = new CpuLlama(_model);
        float[] first = llama.Forward(_prompt[0], 0).ToArray();
        Stories260KGoldenTests.AssertClose(first, Stories260KGoldenTests.Floats(_ref, "prompt_position0_logits"), 1e-4f, "position 0");
        llama.Reset();
        float[] last = llama.Prefill(_prompt, 0).ToArray();
        Stories260KGoldenTests.AssertClose(last, Stories260KGoldenTests.Floats(_ref, "prompt_last_position_logits"), 1e-4f, "last prompt position");
    }

    [Test]
    public void PerLayerArgmaxAtLastPromptPosition_MatchesReference()
    {
        int[] expected = Stories260KGoldenTests.Ints(_ref, "prompt_last_position_layer_argmax");
        var cfg = _model.Config;
        using var llama = new CpuLlama(_model);
        llama.Prefill(_prompt.AsSpan(0, _prompt.Length - 1), 0);
        int pos = _prompt.Length - 1;
        var normed = new float[cfg.Dim];
        var logits = new float[cfg.Vocab];
        var actual = new int[cfg.NLayers];
        llama.Embed(_prompt[pos]);
        for (int l = 0; l < cfg.NLayers; l++)
        {
            llama.Layer(l, pos);
            llama.FinalNorm(llama.Hidden, normed);
            llama.Logits(normed, logits);
            actual[l] = Sampler.Argmax(logits);
        }
        Assert.That(actual, Is.EqualTo(expected));
    }

    [Test]
    public void Greedy128_F16Weights_EqualsReferenceIds()
    {
        int[] expected = Stories260KGoldenTests.Ints(_ref, "greedy_128_ids");
        Assert.That(GreedyContinuation(_model.WithDType(WeightDType.F16), expected.Length), Is.EqualTo(expected));
    }

    [Test]
    public void MeanNll_First40ValidChunks_MatchesReference()
    {
        // Reference definition: blank-line chunks of tinystories_valid_head.txt, the first 40 with more than
        // 8 tokens, each scored as BOS + up to 255 tokens; mean NLL (nats) over every predicted token.
        double expected = _ref.GetProperty("valid_first40_chunks_256tok_mean_nll").GetDouble();
        var tok = TextTokenizer.Load(Path.Combine(TestPaths.DefaultModelDir, "tokenizer.model"));
        string text = File.ReadAllText(TestPaths.Fixture("tinystories_valid_head.txt"));
        int vocab = _model.Config.Vocab;
        using var llama = new CpuLlama(_model);
        var logits = new float[256 * vocab];
        double nll = 0;
        long scored = 0;
        int used = 0;
        foreach (string chunk in text.Split("\n\n"))
        {
            int[] ids = tok.Encode(chunk.Trim(), addBos: false);
            if (ids.Length <= 8) continue;
            int[] seq = [_model.Config.BosId, .. ids.Take(255)];
            llama.Reset();
            llama.Prefill(seq, 0, logits);
            for (int t = 0; t + 1 < seq.Length; t++)
            {
                var row = logits.AsSpan(t * vocab, vocab);
                float max = row[Sampler.Argmax(row)];
                double sum = 0;
                foreach (float v in row) sum += Math.Exp(v - max);
                nll += Math.Log(sum) + max - row[seq[t + 1]];
                scored++;
            }
            if (++used == 40) break;
        }
        TestContext.Out.WriteLine($"mean NLL {nll / scored:F4} nats over {scored} tokens (reference {expected})");
        Assert.That(used, Is.EqualTo(40));
        Assert.That(nll / scored, Is.EqualTo(expected).Within(0.01), $"{scored} tokens scored");
    }
}
