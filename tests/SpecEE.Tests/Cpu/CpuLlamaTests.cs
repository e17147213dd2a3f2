using SpecEE.Core;
using SpecEE.Core.Formats;
using SpecEE.Core.Model;
using SpecEE.Cpu;

namespace SpecEE.Tests.Cpu;

/// <summary>CpuLlama's step-wise API: early-exit depths and the skipped-layer mask, prefill, threads, bad requests.</summary>
public class CpuLlamaTests
{
    /// <summary>(dim, hidden, layers, heads, kvHeads, vocab, threads): one shape on the AVX2 paths, one where no size is a multiple of 8.</summary>
    /// <remarks>threads = 2 forces the layer to be split over two threads (MinParallelMacs = 0).</remarks>
    private static readonly object[] Shapes =
    [
        new object[] { 64, 96, 6, 4, 2, 40, 1 },
        new object[] { 36, 20, 6, 3, 1, 23, 1 },
        new object[] { 64, 96, 6, 4, 2, 40, 2 },
        new object[] { 36, 20, 6, 3, 1, 23, 2 },
    ];

    [TestCaseSource(nameof(Shapes))]
    public void StepwiseWithEarlyExits_MatchesNaiveFp64Reference(int dim, int hidden, int layers, int heads, int kvHeads, int vocab, int threads)
    {
        var model = NaiveLlama.RandomModel(dim, hidden, layers, heads, kvHeads, vocab, maxSeq: 32, seed: dim);
        var naive = new NaiveLlama(model);
        using var llama = new CpuLlama(model, threads: threads) { MinParallelMacs = threads > 1 ? 0 : long.MaxValue };
        // Token, depth per position: a mix of dense steps and exits after 1..5 layers.
        (int Token, int Depth)[] steps = [(1, 6), (7, 3), (3, 6), (22, 1), (5, 4), (9, 6), (2, 2), (11, 6), (4, 5), (0, 6)];
        var logits = new float[vocab];
        var normed = new float[dim];
        for (int pos = 0; pos < steps.Length; pos++)
        {
            var (token, depth) = steps[pos];
            llama.Embed(token);
            for (int l = 0; l < depth; l++) llama.Layer(l, pos);
            llama.FinalNorm(llama.Hidden, normed);
            llama.Logits(normed, logits);
            llama.Commit(pos, depth);
            double[] expected = naive.Step(token, pos, depth);
            Stories260KGoldenTests.AssertClose(logits, expected.Select(v => (float)v).ToArray(), 2e-4f, $"position {pos} (depth {depth})");
        }
    }

    [Test]
    public void SkippedLayerMask_PositionWithDepth3_InvisibleToLayer5_VisibleToLayer2()
    {
        var model = NaiveLlama.RandomModel(64, 96, 6, 4, 2, 40, maxSeq: 16, seed: 3);
        float[] RunWithPoisonedLayer(int poisonLayer)
        {
            using var llama = new CpuLlama(model);
            llama.Forward(1, 0);
            llama.Embed(7);
            for (int l = 0; l < 3; l++) llama.Layer(l, 1);
            llama.Commit(1, 3);
            // Position 1 exited after 3 layers. Poison its K/V in one layer: NaN reaches the logits iff that layer reads it.
            int kvDim = model.Config.KvDim, at = (poisonLayer * llama.MaxSeq + 1) * kvDim;
            llama.Kv.Keys.AsSpan(at, kvDim).Fill(float.NaN);
            llama.Kv.Values.AsSpan(at, kvDim).Fill(float.NaN);
            return llama.Forward(3, 2).ToArray();
        }
        Assert.That(RunWithPoisonedLayer(5).All(float.IsFinite), Is.True, "layer 5 must not attend to a position that ran 3 layers");
        Assert.That(RunWithPoisonedLayer(3).All(float.IsFinite), Is.True, "layer 3 must not attend to a position that ran 3 layers");
        Assert.That(RunWithPoisonedLayer(2).All(float.IsNaN), Is.True, "layer 2 must attend to a position that ran 3 layers");
    }

    [Test]
    public void Prefill_EqualsStepwiseForward_AcrossChunksAndThreads()
    {
        var model = Llama2cReader.Load(TestPaths.Fixture("stories260K.bin"));
        var rng = new Random(5);
        // 150 tokens cross the 128-token prefill chunk; start at 3 after a short dense history.
        int[] history = [1, 403, 407];
        int[] prompt = Enumerable.Range(0, 150).Select(_ => rng.Next(model.Config.Vocab)).ToArray();

        int vocab = model.Config.Vocab;
        using var stepwise = new CpuLlama(model, threads: 1);
        foreach (var (t, p) in history.Select((t, p) => (t, p))) stepwise.Forward(t, p);
        var expectedAll = new float[prompt.Length * vocab];
        for (int i = 0; i < prompt.Length; i++) stepwise.Forward(prompt[i], history.Length + i).CopyTo(expectedAll.AsSpan(i * vocab));
        float[] expected = expectedAll[^vocab..];

        foreach (int threads in new[] { 1, 2 })
        {
            using var batched = new CpuLlama(model, threads: threads) { MinParallelMacs = 0 };
            batched.Prefill(history, 0);
            float[] actual = batched.Prefill(prompt, history.Length).ToArray();
            // Same kernels, same per-element summation order: the results are bit-identical, not just close.
            Assert.That(actual, Is.EqualTo(expected), $"threads={threads}");
            Assert.That(batched.Kv.Keys, Is.EqualTo(stepwise.Kv.Keys), $"keys, threads={threads}");
            Assert.That(batched.Kv.Values, Is.EqualTo(stepwise.Kv.Values), $"values, threads={threads}");
            Assert.That(batched.Kv.Depth.Take(153), Is.All.EqualTo(model.Config.NLayers));

            var all = new float[prompt.Length * vocab];
            batched.Reset();
            batched.Prefill(history, 0);
            batched.Prefill(prompt, history.Length, all);
            Assert.That(all, Is.EqualTo(expectedAll), $"logits of every position, threads={threads}");
            Assert.That(batched.LastLogits.ToArray(), Is.EqualTo(expected));
        }
    }

    [Test]
    public void Forward_SplitOverThreads_IsBitIdenticalToSingleThread()
    {
        var model = Llama2cReader.Load(TestPaths.Fixture("stories260K.bin"));
        using var one = new CpuLlama(model, threads: 1);
        using var two = new CpuLlama(model, threads: 2) { MinParallelMacs = 0 };
        for (int pos = 0; pos < 20; pos++)
            Assert.That(two.Forward(pos * 13 % 512, pos).ToArray(), Is.EqualTo(one.Forward(pos * 13 % 512, pos).ToArray()), $"pos {pos}");
    }

    [Test]
    public void Requests_OutsideTheContext_ThrowInvalidRequest()
    {
        var model = Llama2cReader.Load(TestPaths.Fixture("stories260K.bin"));
        using var llama = new CpuLlama(model, maxSeq: 8);
        Assert.That(() => llama.Forward(1, 8), Throws.TypeOf<InvalidRequestException>().With.Message.Contains("position 8").And.Message.Contains("8 tokens"));
        Assert.That(() => llama.Layer(0, -1), Throws.TypeOf<InvalidRequestException>());
        Assert.That(() => llama.Prefill(new int[9], 0), Throws.TypeOf<InvalidRequestException>().With.Message.Contains("9 tokens"));
        Assert.That(() => llama.Prefill(new int[4], 5), Throws.TypeOf<InvalidRequestException>().With.Message.Contains("position 5"));
        Assert.That(() => llama.Prefill([], 0), Throws.TypeOf<InvalidRequestException>());
        Assert.That(() => llama.Forward(512, 0), Throws.TypeOf<InvalidRequestException>().With.Message.Contains("512"));
        Assert.That(llama.Prefill(new int[8], 0).Length, Is.EqualTo(512), "a prompt that exactly fills the context is fine");
    }

    [TestCase(1)]
    [TestCase(2)]
    public void DecodeSteps_AllocateNothing(int threads)
    {
        var model = Llama2cReader.Load(TestPaths.Fixture("stories260K.bin"));
        using var llama = new CpuLlama(model, threads: threads) { MinParallelMacs = threads > 1 ? 0 : long.MaxValue };
        var normed = new float[model.Config.Dim];
        var logits = new float[model.Config.Vocab];
        void Steps(int from)
        {
            for (int pos = from; pos < from + 8; pos++) llama.Forward(pos, pos);
            llama.Embed(3);
            for (int l = 0; l < 2; l++) llama.Layer(l, from + 8);
            llama.FinalNorm(llama.Hidden, normed);
            llama.Logits(normed, logits);
            llama.Commit(from + 8, 2);
        }
        Steps(0); // first calls may allocate (JIT, lazy statics)
        long before = GC.GetAllocatedBytesForCurrentThread();
        Steps(9);
        Assert.That(GC.GetAllocatedBytesForCurrentThread() - before, Is.Zero);
    }

    [Test]
    public void DecoderLayer_WithoutInputNorm_UsesTheInputAsIs()
    {
        // The EAGLE head's layer has no input_layernorm. With unit norm weights, normalising an x whose mean square
        // is exactly 1 − eps is the identity, so both paths must agree; with the norm skipped, scaling x must matter.
        var model = NaiveLlama.RandomModel(64, 96, 1, 4, 2, 40, maxSeq: 8, seed: 9);
        var w = model.Weights.Layers[0];
        var unit = new SpecEE.Core.Model.LayerWeights
        {
            AttnNorm = Enumerable.Repeat(1f, 64).ToArray(), Wq = w.Wq, Wk = w.Wk, Wv = w.Wv, Wo = w.Wo,
            FfnNorm = w.FfnNorm, W1 = w.W1, W2 = w.W2, W3 = w.W3,
        };
        var cfg = model.Config;
        var rope = new RopeTable(cfg.HeadDim, 8, cfg.RopeTheta);
        var rng = new Random(2);
        double[] raw = Enumerable.Range(0, 64).Select(_ => rng.NextDouble() - 0.5).ToArray();
        double scale = Math.Sqrt((1 - cfg.NormEps) / raw.Average(v => v * v));
        float[] x0 = raw.Select(v => (float)(v * scale)).ToArray();

        float[] RunLayer(bool norm, float[] x)
        {
            var layer = new CpuDecoderLayer(cfg, rope);
            var kv = new KvCache(1, 8, cfg.KvDim);
            var h = (float[])x.Clone();
            layer.Run(unit, h, 0, kv.LayerKeys(0), kv.LayerValues(0), [], 0, applyInputNorm: norm);
            return h;
        }
        Stories260KGoldenTests.AssertClose(RunLayer(false, x0), RunLayer(true, x0), 1e-5f, "skip-norm vs unit norm");
        float[] doubled = x0.Select(v => 2 * v).ToArray();
        Assert.That(RunLayer(false, doubled), Is.Not.EqualTo(RunLayer(true, doubled)), "with the norm skipped, the scale of x must reach Q/K/V");
    }

    [Test]
    public void Reset_ForgetsTheSequence()
    {
        var model = Llama2cReader.Load(TestPaths.Fixture("stories260K.bin"));
        using var llama = new CpuLlama(model);
        float[] first = llama.Forward(1, 0).ToArray();
        llama.Forward(403, 1);
        llama.Reset();
        Assert.That(llama.Kv.Depth, Is.All.EqualTo(0));
        Assert.That(llama.Forward(1, 0).ToArray(), Is.EqualTo(first));
    }
}
