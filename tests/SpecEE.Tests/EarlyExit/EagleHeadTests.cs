using System.Text.Json;
using SpecEE.Core.Formats;
using SpecEE.Core.EarlyExit;
using SpecEE.Cpu;

namespace SpecEE.Tests.EarlyExit;

public class EagleHeadTests
{
    [Test]
    public void TopFourAfterTheFirstGreedyToken_MatchesTheReference()
    {
        using var json = JsonDocument.Parse(File.ReadAllBytes(TestPaths.Fixture("tinystories-16L_reference.json")));
        int[] Ints(string key) => json.RootElement.GetProperty(key).EnumerateArray().Select(e => e.GetInt32()).ToArray();
        int[] prompt = Ints("prompt_ids_with_bos");
        int firstGreedy = Ints("greedy_128_ids")[0];
        int[] expectedTop4 = Ints("eagle_prompt_top4_after_first_greedy");

        var model = ModelLoader.Load(TestPaths.DefaultModelDir);
        using var llama = new CpuLlama(model, maxSeq: 64, threads: 1);
        var eagle = new EagleHead(EagleWeights.LoadDirectory(TestPaths.DefaultModelDir), model, maxSeq: 64);

        // Base model: dense steps over the prompt, keeping each position's final-normed hidden state (the feature).
        int dim = model.Config.Dim, n = prompt.Length;
        var features = new float[n * dim];
        int greedy = -1;
        for (int i = 0; i < n; i++)
        {
            var logits = llama.Forward(prompt[i], i);
            llama.FinalNorm(llama.Hidden, features.AsSpan(i * dim, dim));
            if (i == n - 1) greedy = ExitRule.Argmax(logits);
        }
        Assert.That(greedy, Is.EqualTo(firstGreedy), "base model's first greedy token");

        // EAGLE prefill: pairs (feature i, token i+1) at position i, then (feature of the last prompt position, first greedy token).
        for (int i = 0; i + 1 < n; i++) eagle.Step(prompt[i + 1], features.AsSpan(i * dim, dim), i);
        var top = new int[4];
        eagle.Propose(greedy, features.AsSpan((n - 1) * dim, dim), n - 1, top);
        Assert.That(top, Is.EqualTo(expectedTop4));
    }

    [Test]
    public void HeadOnTheRunnersThreads_GivesBitIdenticalOutputs()
    {
        var model = DefaultModel.Model;
        int dim = model.Config.Dim;
        using var split = new CpuLlama(model, maxSeq: 64, threads: 2) { MinParallelMacs = 0 }; // split even this small layer
        var alone = new EagleHead(DefaultModel.Eagle, model, 64);
        var lent = new EagleHead(DefaultModel.Eagle, model, 64, threadsOf: split);
        var feature = new float[dim];
        var rng = new Random(3);
        for (int pos = 0; pos < 20; pos++)
        {
            for (int i = 0; i < dim; i++) feature[i] = (float)(rng.NextDouble() * 2 - 1);
            int token = rng.Next(model.Config.Vocab);
            alone.Step(token, feature, pos);
            lent.Step(token, feature, pos);
            Assert.That(lent.Output.ToArray(), Is.EqualTo(alone.Output.ToArray()), $"position {pos}");
            Assert.That(lent.Logits().ToArray(), Is.EqualTo(alone.Logits().ToArray()), $"logits at {pos}");
        }
    }

    [Test]
    public void TopK_OrdersByValueAndKeepsLowerIndexOnTies()
    {
        var top = new int[4];
        EagleHead.TopK([0.5f, 3f, -1f, 3f, 2f, 7f, 2f], top);
        Assert.That(top, Is.EqualTo(new[] { 5, 1, 3, 4 }));
    }
}
