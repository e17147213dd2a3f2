using SpecEE.Core.EarlyExit;
using SpecEE.Core.Model;
using SpecEE.Cpu;

namespace SpecEE.Tests.EarlyExit;

/// <summary>The "project" skipped-layer KV policy against the layer's own K/V and against the "mask" policy.</summary>
public class KvPolicyTests
{
    private static LlamaModel Model => DefaultModel.Model;
    private static EagleWeights Eagle => DefaultModel.Eagle;
    private static int[] Ref(string key) => DefaultModel.Ref(key);
    private static ExitPolicy Constant(bool fire) => new(DefaultModel.ConstantPredictors(fire));

    private static SpecEEScore Score(ExitPolicy? policy, KvPolicy kv, int[] tokens)
    {
        using var llama = new CpuLlama(Model, maxSeq: 128, threads: 1);
        var engine = new CpuSpecEE(llama, Model, new EagleHead(Eagle, Model, 128), policy) { KvPolicy = kv };
        return engine.Score(tokens);
    }

    [Test]
    public void ProjectKv_FromALayersInput_WritesExactlyTheKeysAndValuesTheLayerWrites()
    {
        int[] prompt = Ref("prompt_ids_with_bos");
        int kvDim = Model.Config.KvDim, pos = prompt.Length - 1;
        using var llama = new CpuLlama(Model, maxSeq: 64, threads: 1);
        for (int i = 0; i < pos; i++) llama.Forward(prompt[i], i);
        llama.Embed(prompt[pos]);
        for (int l = 0; l < Model.Config.NLayers; l++)
        {
            float[] input = llama.Hidden.ToArray();
            llama.Layer(l, pos);
            float[] k = llama.Kv.LayerKeys(l).Slice(pos * kvDim, kvDim).ToArray();
            float[] v = llama.Kv.LayerValues(l).Slice(pos * kvDim, kvDim).ToArray();
            llama.Kv.LayerKeys(l).Slice(pos * kvDim, kvDim).Fill(float.NaN);
            llama.Kv.LayerValues(l).Slice(pos * kvDim, kvDim).Fill(float.NaN);
            llama.ProjectKv(l, pos, input);
            Assert.That(llama.Kv.LayerKeys(l).Slice(pos * kvDim, kvDim).ToArray(), Is.EqualTo(k), $"K of layer {l}");
            Assert.That(llama.Kv.LayerValues(l).Slice(pos * kvDim, kvDim).ToArray(), Is.EqualTo(v), $"V of layer {l}");
        }
    }

    [Test]
    public void Project_WithNoExit_EqualsDense_AndDiffersFromMaskOnlyAfterTheFirstExit()
    {
        int[] tokens = [.. Ref("prompt_ids_with_bos"), .. Ref("greedy_128_ids")[..40]];
        var dense = Score(null, KvPolicy.Mask, tokens);
        Assert.That(Score(Constant(fire: false), KvPolicy.Project, tokens), Is.EqualTo(dense), "nothing exits: project = dense");

        // Every layer fires: the first verifiable layer exits at every step.
        var mask = Score(Constant(fire: true), KvPolicy.Mask, tokens);
        var project = Score(Constant(fire: true), KvPolicy.Project, tokens);
        int firstExit = Array.FindIndex(mask.ExitLayers, e => e < Model.Config.NLayers - 1);
        Assert.That(firstExit, Is.GreaterThan(0), "some position exits");
        Assert.That(project.ExitLayers[firstExit], Is.EqualTo(mask.ExitLayers[firstExit]));
        for (int i = 0; i <= firstExit; i++)
        {
            Assert.That(project.Outputs[i], Is.EqualTo(mask.Outputs[i]), $"position {i}");
            Assert.That(project.Nlls[i], Is.EqualTo(mask.Nlls[i]), $"NLL at position {i}: the policies only touch what comes after an exit");
        }
        bool differs = false;
        for (int i = firstExit + 1; i < mask.Nlls.Length; i++) differs |= project.Nlls[i] != mask.Nlls[i];
        Assert.That(differs, Is.True, "after an exit, skipped layers attend to the projected K/V under project and not under mask");
    }
}
