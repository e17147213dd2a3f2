using SpecEE.Core.EarlyExit;
using SpecEE.Core.Generation;
using SpecEE.Core.Model;
using SpecEE.Core.Sampling;
using SpecEE.Cpu;

namespace SpecEE.Tests.EarlyExit;

/// <summary>
/// SpecEE behind the generation loop: after an early exit the loop receives the exit layer's logits, so sampling
/// draws from the exit layer's distribution (issue 4, item 3) and greedy emits exactly the verified exit token.
/// </summary>
public class CpuSpecEEBackendTests
{
    private static LlamaModel Model => DefaultModel.Model;
    private static EagleWeights Eagle => DefaultModel.Eagle;
    private static int[] Ref(string key) => DefaultModel.Ref(key);

    // Predictors that always fire: each step exits at the first layer whose argmax is one of EAGLE's candidates.
    private static PredictorSet AlwaysFire(int nLayers) => DefaultModel.ConstantPredictors(fire: true, nLayers);

    [Test]
    public void Forward_AfterAnExit_ReturnsTheExitLayersLogits_BitForBit()
    {
        int[] prompt = Ref("prompt_ids_with_bos"), top4 = Ref("eagle_prompt_top4_after_first_greedy");
        int n = prompt.Length, L = Model.Config.NLayers;
        using var backend = new CpuSpecEEBackend(Model, Eagle, AlwaysFire(L), KvPolicy.Mask, threads: 1);
        int first = Sampler.Argmax(backend.Prefill(prompt, 0));
        Assert.That(first, Is.EqualTo(Ref("greedy_128_ids")[0]), "the prefill is dense");
        float[] got = backend.Forward(first, n).ToArray();
        int exit = backend.ExitLayers[^1];
        Assert.That(exit, Is.LessThan(L - 1), "an always-firing predictor exits the first decode step early");

        // Independently: dense prompt, then the same input through layers 0..exit, final norm, LM head.
        var expected = new float[Model.Config.Vocab];
        var normed = new float[Model.Config.Dim];
        using (var probe = new CpuLlama(Model, maxSeq: 64, threads: 1))
        {
            for (int i = 0; i < n; i++) probe.Forward(prompt[i], i);
            probe.Embed(first);
            for (int l = 0; l <= exit; l++) probe.Layer(l, n);
            probe.FinalNorm(probe.Hidden, normed);
            probe.Logits(normed, expected);
        }
        Assert.That(got, Is.EqualTo(expected), "the loop gets the exit layer's logits");
        Assert.That(top4, Does.Contain(Sampler.Argmax(got)), "and their argmax is a verified candidate");
    }

    [Test]
    public void Generator_Sampling_DrawsEachTokenFromTheLogitsOfItsExitLayer()
    {
        int[] prompt = Ref("prompt_ids_with_bos");
        int L = Model.Config.NLayers;
        var options = new GenerationOptions { MaxNewTokens = 24, Temperature = 1.5f, TopP = 1f, Seed = 11, StopAtEos = false };
        using var viaLoop = new CpuSpecEEBackend(Model, Eagle, AlwaysFire(L), KvPolicy.Mask, threads: 1);
        int[] generated = Generator.Run(viaLoop, prompt, options).NewIds;

        // The same steps by hand: every token is drawn by the seeded sampler from the logits the previous step
        // returned (exit layer's when it exited), and that sampled token, not the argmax, is fed back.
        using var byHand = new CpuSpecEEBackend(Model, Eagle, AlwaysFire(L), KvPolicy.Mask, threads: 1);
        var sampler = new Sampler(options.Temperature, options.TopP, options.Seed);
        var tokens = new List<int>();
        int notArgmax = 0;
        var logits = byHand.Prefill(prompt, 0).ToArray();
        for (int pos = prompt.Length; tokens.Count < options.MaxNewTokens; pos++)
        {
            int t = sampler.Sample(logits);
            if (t != Sampler.Argmax(logits)) notArgmax++;
            tokens.Add(t);
            logits = byHand.Forward(t, pos).ToArray();
        }
        Assert.That(generated, Is.EqualTo(tokens));
        Assert.That(byHand.ExitLayers.Take(options.MaxNewTokens).Count(e => e < L - 1), Is.GreaterThan(options.MaxNewTokens / 4),
            "many tokens come from an early exit (15 of 24 with this seed; 12–16 over other seeds)");
        Assert.That(notArgmax, Is.GreaterThan(0), "at temperature 1.5 some draws are not the argmax, so this is sampling");
    }
}
