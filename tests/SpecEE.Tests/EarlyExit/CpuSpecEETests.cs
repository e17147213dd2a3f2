using SpecEE.Core.Model;
using SpecEE.Core.EarlyExit;
using SpecEE.Cpu;

namespace SpecEE.Tests.EarlyExit;

public class CpuSpecEETests
{
    private static LlamaModel Model => DefaultModel.Model;
    private static EagleWeights Eagle => DefaultModel.Eagle;
    private static int[] Ref(string key) => DefaultModel.Ref(key);
    private static PredictorSet Constant(bool fire, int nLayers) => DefaultModel.ConstantPredictors(fire, nLayers);

    private static (CpuSpecEE Engine, CpuLlama Llama) Make(ExitPolicy? policy)
    {
        var llama = new CpuLlama(Model, maxSeq: 160, threads: 1);
        return (new CpuSpecEE(llama, Model, new EagleHead(Eagle, Model, maxSeq: 160), policy), llama);
    }

    [Test]
    public void Dense_And_NeverFiring_ReproduceTheReferenceGreedyText()
    {
        int[] prompt = Ref("prompt_ids_with_bos"), expected = Ref("greedy_128_ids")[..40];
        var (dense, l1) = Make(null);
        using (l1) Assert.That(dense.Generate(prompt, 40, stopAtEos: false), Is.EqualTo(expected));

        var policy = new ExitPolicy(Constant(fire: false, Model.Config.NLayers));
        var (never, l2) = Make(policy);
        using (l2) Assert.That(never.Generate(prompt, 40, stopAtEos: false), Is.EqualTo(expected));
        Assert.That(policy.Statistics.Fires, Is.Zero);
        Assert.That(policy.Statistics.PredictorRuns, Is.GreaterThan(39 * 15 - 1), "all 15 layers scheduled (offline = all)");
        Assert.That(policy.Statistics.AverageLayers, Is.EqualTo(16));
    }

    [Test]
    public void FirstDecodeStep_ExitsAtTheFirstLayerWhoseArgmaxIsACandidate()
    {
        int[] prompt = Ref("prompt_ids_with_bos"), top4 = Ref("eagle_prompt_top4_after_first_greedy");
        int g1 = Ref("greedy_128_ids")[0], L = Model.Config.NLayers, n = prompt.Length;

        // Independent per-layer argmax of the first decode step (input g1 at position n), dense, layer by layer.
        int expectLayer = L - 1, expectToken = -1;
        using (var probe = new CpuLlama(Model, maxSeq: 64, threads: 1))
        {
            for (int i = 0; i < n; i++) probe.Forward(prompt[i], i);
            var normed = new float[Model.Config.Dim];
            var logits = new float[Model.Config.Vocab];
            probe.Embed(g1);
            for (int l = 0; l < L - 1; l++)
            {
                probe.Layer(l, n);
                probe.FinalNorm(probe.Hidden, normed);
                probe.Logits(normed, logits);
                int a = ExitRule.Argmax(logits);
                if (top4.Contains(a)) { expectLayer = l; expectToken = a; break; }
            }
        }
        Assume.That(expectLayer, Is.LessThan(L - 1), "the reference step has a verifiable layer");

        var policy = new ExitPolicy(Constant(fire: true, L)); // every layer scheduled and firing
        var (engine, llama) = Make(policy);
        using (llama)
        {
            int[] tokens = engine.Generate(prompt, 2, stopAtEos: false);
            Assert.That(tokens[0], Is.EqualTo(g1));
            Assert.That(engine.ExitLayers[1], Is.EqualTo(expectLayer));
            Assert.That(tokens[1], Is.EqualTo(expectToken));
            Assert.That(llama.Kv.Depth[n], Is.EqualTo(expectLayer + 1), "the exited position is committed with its depth");
        }
        Assert.That(policy.Statistics.Fires - policy.Statistics.Rejections, Is.EqualTo(1));
    }

    [Test]
    public void CollectTrainingData_RecordsTheDenseTrajectory()
    {
        int[] prompt = Ref("prompt_ids_with_bos"), greedy = Ref("greedy_128_ids"), top4 = Ref("eagle_prompt_top4_after_first_greedy");
        int L = Model.Config.NLayers, n = prompt.Length;
        var data = new ExitTrainingData(L);
        var (engine, llama) = Make(null);
        using (llama) Assert.That(engine.CollectTrainingData(prompt, 24, data, stopAtEos: false), Is.EqualTo(greedy[..24]));
        Assert.That(data.Steps, Is.EqualTo(23), "one record per decode step; the first token comes from the prefill");
        for (int s = 0; s < 23; s++) Assert.That(data.FinalToken(s), Is.EqualTo(greedy[s + 1]), $"step {s}");
        Assert.That(data.Candidates(0).ToArray(), Is.EqualTo(top4));

        // per-layer argmax of step 0, probed independently layer by layer
        var probeArgmax = new int[L - 1];
        using (var probe = new CpuLlama(Model, maxSeq: 64, threads: 1))
        {
            for (int i = 0; i < n; i++) probe.Forward(prompt[i], i);
            var normed = new float[Model.Config.Dim];
            var logits = new float[Model.Config.Vocab];
            probe.Embed(greedy[0]);
            for (int l = 0; l < L - 1; l++)
            {
                probe.Layer(l, n);
                probe.FinalNorm(probe.Hidden, normed);
                probe.Logits(normed, logits);
                probeArgmax[l] = ExitRule.Argmax(logits);
            }
        }
        Assert.That(data.LayerArgmax(0).ToArray(), Is.EqualTo(probeArgmax));
        var samples = data.ToSamples();
        for (int l = 0; l < L - 1; l++)
            Assert.That(samples.Layer(l).Labels[0], Is.EqualTo(probeArgmax[l] == greedy[1]), $"label of layer {l}");
    }

    [Test]
    public void Score_DenseEqualsBatchedPrefillNll_AndNeverFiringEqualsDense()
    {
        var tok = SpecEE.Core.Text.TextTokenizer.Load(Path.Combine(TestPaths.DefaultModelDir, "tokenizer.model"));
        var chunks = File.ReadAllText(TestPaths.Fixture("tinystories_valid_head.txt")).Split("\n\n")
            .Select(c => tok.Encode(c.Trim(), addBos: false)).Where(ids => ids.Length > 8).Take(2)
            .Select(ids => (int[])[Model.Config.BosId, .. ids.Take(95)]).ToArray();
        int vocab = Model.Config.Vocab;
        foreach (int[] seq in chunks)
        {
            // independent reference: the batched prefill's logits at every position
            double expected = 0;
            using (var probe = new CpuLlama(Model, maxSeq: 160, threads: 1))
            {
                var logits = new float[seq.Length * vocab];
                probe.Prefill(seq, 0, logits);
                for (int t = 0; t + 1 < seq.Length; t++)
                {
                    var row = logits.AsSpan(t * vocab, vocab).ToArray();
                    double max = row.Max();
                    expected += Math.Log(row.Sum(v => Math.Exp(v - max))) + max - row[seq[t + 1]];
                }
            }
            var (dense, l1) = Make(null);
            SpecEEScore d;
            using (l1) d = dense.Score(seq);
            Assert.That(d.Predicted, Is.EqualTo(seq.Length - 1));
            Assert.That(d.TotalNll, Is.EqualTo(expected).Within(1e-3 * seq.Length));
            Assert.That(d.AverageLayers, Is.EqualTo(16));

            var (never, l2) = Make(new ExitPolicy(Constant(fire: false, Model.Config.NLayers)));
            using (l2) Assert.That(never.Score(seq), Is.EqualTo(d));
        }
    }
}
