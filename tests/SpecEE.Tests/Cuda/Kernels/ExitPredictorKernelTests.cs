using SpecEE.Core.EarlyExit;
using SpecEE.Core.Model;
using SpecEE.Cpu;
using SpecEE.Cuda.Device;
using SpecEE.Cuda.Kernels;
using SpecEE.Tests.EarlyExit;
using static SpecEE.Tests.Cuda.Kernels.DecodeKernelHarness;

namespace SpecEE.Tests.Cuda.Kernels;

/// <summary>
/// exit_predictor against SpecEE.Core's ExitFeatures + ExitPredictor (the CPU engine's own predictor path): features
/// with the Δ state chained over scheduled layers, the MLP's logit and probability, and the fire decision.
/// </summary>
public class ExitPredictorKernelTests
{
    private static IEnumerable<TestCaseData> Cases() =>
        from d in Devices
        from dt in new[] { WeightDType.F32, WeightDType.F16 }
        from s in new[] { (dim: 128, vocab: 512, hidden: 512), (dim: 200, vocab: 333, hidden: 100) }
        select new TestCaseData(d, dt, s.dim, s.vocab, s.hidden).SetArgDisplayNames(d, dt.ToString(), $"dim {s.dim}", $"vocab {s.vocab}", $"hidden {s.hidden}");

    private static ExitPredictor RandomPredictor(Random rng, int hidden, float downBias) =>
        new(Random(rng, hidden * 12, 0.5f), Random(rng, hidden, 0.2f), Random(rng, hidden, 0.1f), downBias);

    /// <summary>Runs the device predictor on each normed state in turn (one step, Δ chained) and checks every output.</summary>
    private static void RunChain(IGpuDevice device, WeightDType dt, float[] lmHead, int dim, int vocab, int[] candidates,
        IReadOnlyList<float[]> normedStates, IReadOnlyList<ExitPredictor> predictors, float threshold, string what)
    {
        float[] cpuLmHead = dt == WeightDType.F16 ? RoundToHalf(lmHead) : lmHead;
        using var kernel = new ExitPredictorKernel(device, dt);
        using GpuBuffer dLm = UploadWeights(device, lmHead, dt), dCand = Upload(device, candidates);
        using GpuBuffer state = NaNBuffer(device, ExitPredictorKernel.StateFloats), output = NaNBuffer(device, ExitPredictorKernel.OutputFloats);
        using GpuBuffer fire = Upload(device, new[] { -1 });
        using GpuStream stream = device.CreateStream();
        kernel.ResetStep(state, stream);

        var features = new ExitFeatures();
        var z = new float[4];
        var x = new float[12];
        for (int l = 0; l < normedStates.Count; l++)
        {
            using GpuBuffer dNormed = Upload(device, normedStates[l]);
            using var dPred = new DeviceExitPredictor(device, predictors[l]);
            kernel.Launch(state, output, fire, dNormed, dLm, dCand, dPred, dim, vocab, threshold, stream);

            ExitFeatures.CandidateLogits(cpuLmHead, dim, candidates, normedStates[l], z);
            features.Compute(z, x);
            float logit = predictors[l].Logit(x), probability = ExitPredictor.Sigmoid(logit);
            float[] got = Download(device, output, ExitPredictorKernel.OutputFloats);
            AssertClose(got.AsSpan(0, 12), x, 1e-5f, 1e-5f, $"{what} layer {l}: features");
            AssertClose(got.AsSpan(12, 1), [logit], 1e-4f, 1e-5f, $"{what} layer {l}: logit");
            AssertClose(got.AsSpan(13, 1), [probability], 1e-6f, 1e-5f, $"{what} layer {l}: probability");
            var gotFire = new int[1];
            device.CopyToHost(gotFire.AsSpan(), fire.Ptr);
            if (Math.Abs(probability - threshold) > 1e-5f)
                Assert.That(gotFire[0], Is.EqualTo(probability > threshold ? 1 : 0), $"{what} layer {l}: fire (p = {probability})");
            AssertClose(Download(device, state, 5), [.. features.PreviousProbabilities, 1f], 1e-6f, 1e-5f, $"{what} layer {l}: state");
        }
    }

    [TestCaseSource(nameof(Cases))]
    public void RandomPredictors_ThreeScheduledLayers_MatchCpuFeaturesLogitAndFire(string kind, WeightDType dt, int dim, int vocab, int hidden)
    {
        using IGpuDevice device = Open(kind);
        var rng = new Random(dim * 7 + vocab + hidden);
        float[] lmHead = Random(rng, vocab * dim, 0.5f);
        int[] candidates = [3, vocab - 1, 0, vocab / 2];
        var normed = Enumerable.Range(0, 3).Select(_ => Random(rng, dim, 2f)).ToArray();
        // Output biases +4 / −4 / 0: one layer that fires, one that does not, one decided by the features.
        var predictors = new[] { 4f, -4f, 0f }.Select(b => RandomPredictor(rng, hidden, b)).ToArray();
        RunChain(device, dt, lmHead, dim, vocab, candidates, normed, predictors, 0.5f, $"{kind} {dt}");
    }

    [TestCase("sim", WeightDType.F32)]
    [TestCase("sim", WeightDType.F16)]
    [TestCase("gpu", WeightDType.F16)]
    public void ShippedPredictors_OnTheRealFirstDecodeStep_DecideAsTheCpu(string kind, WeightDType dt)
    {
        using IGpuDevice device = Open(kind);
        LlamaModel model = DefaultModel.Model;
        var set = DefaultModel.ShippedPredictors();
        int[] prompt = DefaultModel.Ref("prompt_ids_with_bos"), candidates = DefaultModel.Ref("eagle_prompt_top4_after_first_greedy");
        int first = DefaultModel.Ref("greedy_128_ids")[0], dim = model.Config.Dim, L = model.Config.NLayers;

        // The first decode step's normed state after each layer 0..L−2, every layer treated as scheduled.
        var normed = new List<float[]>();
        using (var llama = new CpuLlama(model, maxSeq: 64, threads: 1))
        {
            for (int i = 0; i < prompt.Length; i++) llama.Forward(prompt[i], i);
            llama.Embed(first);
            for (int l = 0; l < L - 1; l++)
            {
                llama.Layer(l, prompt.Length);
                var n = new float[dim];
                llama.FinalNorm(llama.Hidden, n);
                normed.Add(n);
            }
        }
        var predictors = Enumerable.Range(0, L - 1).Select(l => set[l]!).ToArray();
        RunChain(device, dt, model.Weights.Classifier, dim, model.Config.Vocab, candidates, normed, predictors, set.Threshold, $"{kind} {dt} shipped");
    }

    [Test]
    public void CandidateIdsOutsideTheVocabulary_AreClampedNotReadOutOfBounds()
    {
        using IGpuDevice device = Open("sim");
        const int dim = 64, vocab = 40;
        var rng = new Random(5);
        float[] lmHead = Random(rng, vocab * dim), normed = Random(rng, dim);
        using var kernel = new ExitPredictorKernel(device, WeightDType.F32);
        using GpuBuffer dLm = Upload(device, lmHead), dNormed = Upload(device, normed), dCand = Upload(device, new[] { -7, vocab + 1000, 1, 2 });
        using GpuBuffer state = NaNBuffer(device, 5), output = NaNBuffer(device, 14), fire = Upload(device, new[] { -1 });
        using var pred = new DeviceExitPredictor(device, RandomPredictor(rng, 32, 0f));
        using GpuStream stream = device.CreateStream();
        kernel.ResetStep(state, stream);
        kernel.Launch(state, output, fire, dNormed, dLm, dCand, pred, dim, vocab, 0.5f, stream);
        var z = new float[4];
        ExitFeatures.CandidateLogits(lmHead, dim, [0, vocab - 1, 1, 2], normed, z);
        AssertClose(Download(device, output, 14).AsSpan(0, 4), z, 1e-5f, 1e-5f, "clamped candidate logits");
    }

    [Test]
    public void Launch_WithAShortBuffer_NamesIt()
    {
        using IGpuDevice device = Open("sim");
        using var kernel = new ExitPredictorKernel(device, WeightDType.F32);
        using GpuBuffer small = device.Allocate(8), big = device.Allocate(1 << 16);
        using var pred = new DeviceExitPredictor(device, RandomPredictor(new Random(1), 16, 0f));
        using GpuStream stream = device.CreateStream();
        var e = Assert.Throws<ArgumentException>(() => kernel.Launch(big, big, big, big, big, small, pred, 64, 100, 0.5f, stream))!;
        Assert.That(e.Message, Does.StartWith("candidates holds 8 bytes, exit_predictor needs 16"));
    }
}
