using SpecEE.Core;
using SpecEE.Core.Generation;
using SpecEE.Core.Model;
using SpecEE.Cpu;
using SpecEE.Cuda.Device;
using SpecEE.Cuda.Kernels;
using SpecEE.Cuda.Model;
using SpecEE.Tests.Cuda.Kernels;

namespace SpecEE.Tests.Cuda.Model;

/// <summary>
/// What the device model promises besides the golden ids: graph replay computes exactly what the eager
/// launches compute, the step state advances on the device, the step-wise API matches the CPU layer by layer,
/// and requests outside the context are refused with <see cref="InvalidRequestException"/>.
/// Uses stories260K (5 layers) to keep the simulator fast.
/// </summary>
[TestFixture("sim")]
[TestFixture("gpu")]
[NonParallelizable]
public class CudaLlamaBehaviourTests(string kind)
{
    private IGpuDevice _device = null!;

    [SetUp]
    public void OpenDevice() => _device = ModelTestSupport.Open(kind);

    [TearDown]
    public void CloseDevice() => _device?.Dispose();

    [TestCase(WeightDType.F16)]
    [TestCase(WeightDType.F32)]
    public void GraphReplay_EqualsEagerLaunches_BitForBit(WeightDType dtype)
    {
        LlamaModel model = ModelTestSupport.Stories260K.WithDType(dtype);
        int[] prompt = [1, 403, 407, 261];
        using var llama = new CudaLlama(_device, model, dtype);
        float[][] Run(bool graph)
        {
            llama.UseGraph = graph;
            llama.Reset();
            var steps = new List<float[]> { llama.Prefill(prompt, 0).ToArray() };
            for (int pos = prompt.Length; pos < prompt.Length + 12; pos++)
                steps.Add(llama.Forward(SpecEE.Core.Sampling.Sampler.Argmax(steps[^1]), pos).ToArray());
            return steps.ToArray();
        }
        float[][] eager = Run(graph: false);
        Assert.That(llama.GraphCaptures, Is.Zero, "eager launches must not capture a graph");
        float[][] graph = Run(graph: true);
        Assert.That(llama.GraphCaptures, Is.EqualTo(1), "the step is captured once and replayed");
        for (int s = 0; s < eager.Length; s++)
            Assert.That(graph[s], Is.EqualTo(eager[s]), $"logits of step {s} (same kernels, same order: bit-identical)");
        Assert.That(eager[^1], Has.All.Not.NaN);
    }

    [TestCase(WeightDType.F16)]
    [TestCase(WeightDType.F32)]
    public void BatchedPrefill_EqualsOneStepPerToken_BitForBit(WeightDType dtype)
    {
        // 70 real ids: more than one 64-token chunk, so the second chunk attends to K/V the first one wrote.
        int[] ids = ModelTestSupport.Ints(ModelTestSupport.Reference("stories260K_reference.json"), "greedy_from_bos_ids")[..73];
        int[] prompt = ids[..70];
        LlamaModel model = ModelTestSupport.Stories260K.WithDType(dtype);
        using var llama = new CudaLlama(_device, model, dtype);
        float[][] Run(bool batched, int split)
        {
            llama.BatchedPrefill = batched;
            llama.Reset();
            var logits = new List<float[]>();
            if (split > 0) llama.Prefill(prompt[..split], 0); // a continued prompt (the REPL): startPos > 0
            logits.Add(llama.Prefill(prompt[split..], split).ToArray());
            for (int pos = 70; pos < ids.Length; pos++) logits.Add(llama.Forward(ids[pos], pos).ToArray());
            return logits.ToArray();
        }
        float[][] stepwise = Run(batched: false, split: 0);
        float[][] batched = Run(batched: true, split: 0);
        float[][] continued = Run(batched: true, split: 37);
        for (int s = 0; s < stepwise.Length; s++)
        {
            Assert.That(batched[s], Is.EqualTo(stepwise[s]), $"batched prefill, logits {s} (batched QKV, attention and GEMVs sum like the per-token kernels)");
            Assert.That(continued[s], Is.EqualTo(stepwise[s]), $"prefill in two calls, logits {s}");
        }
        Assert.That(SpecEE.Core.Sampling.Sampler.Argmax(stepwise[0]), Is.EqualTo(ids[70]), "the golden greedy id follows the prompt");
    }

    [Test]
    public void DecodeOnDevice_GraphAndEager_GiveTheSameIds_AndAdvanceTheStepState()
    {
        LlamaModel model = ModelTestSupport.Stories260K;
        using var llama = new CudaLlama(_device, model, WeightDType.F32);
        var graphIds = new int[20];
        llama.DecodeOnDevice(model.Config.BosId, 0, graphIds);
        int[] state = llama.ReadState();
        Assert.That(state[StepState.Pos], Is.EqualTo(20), "pos advanced on the device once per step");
        Assert.That(state[StepState.SeqLen], Is.EqualTo(21));
        Assert.That(state[StepState.Token], Is.EqualTo(graphIds[^1]), "the last step's output is the next step's input");
        var depth = new int[llama.MaxSeq];
        _device.CopyToHost(depth.AsSpan(), llama.Kv.Depth.Ptr);
        Assert.That(depth[..20], Has.All.EqualTo(model.Config.NLayers), "every decoded position committed as dense");
        Assert.That(depth[20..], Has.All.Zero, "positions not yet decoded stay uncommitted");

        llama.Reset();
        llama.UseGraph = false;
        var eagerIds = new int[20];
        llama.DecodeOnDevice(model.Config.BosId, 0, eagerIds);
        Assert.That(eagerIds, Is.EqualTo(graphIds));
    }

    [Test]
    public void DecodeOnDevice_Sampling_EqualsCpuSamplerOnCpuLogits()
    {
        // Same weights, same seeded RNG (SplitMix64, its state on the device), same algorithm: the device-sampled sequence
        // equals the CPU backend + Sampler sequence token for token (the f32 logits agree to ~1e-6, far below the
        // spacing of the cumulative probabilities a draw lands between).
        const float temperature = 0.9f, topP = 0.9f;
        const ulong seed = 1234;
        LlamaModel model = ModelTestSupport.Stories260K;
        using var cpu = new CpuLlama(model, 0, 1);
        var sampler = new SpecEE.Core.Sampling.Sampler(temperature, topP, seed);
        var expected = new int[40];
        int token = model.Config.BosId;
        for (int pos = 0; pos < expected.Length; pos++) token = expected[pos] = sampler.Sample(cpu.Forward(token, pos));

        using var llama = new CudaLlama(_device, model, WeightDType.F32);
        llama.SetSampling(temperature, topP, seed);
        var ids = new int[expected.Length];
        llama.DecodeOnDevice(model.Config.BosId, 0, ids);
        Assert.That(ids, Is.EqualTo(expected));
        Assert.That(ids.Distinct().Count(), Is.GreaterThan(10), "a sampled story, not a constant");

        llama.Reset();
        llama.SetSampling(0f, 1f, 0);
        var greedy = new int[expected.Length];
        llama.DecodeOnDevice(model.Config.BosId, 0, greedy);
        int[] golden = ModelTestSupport.Ints(ModelTestSupport.Reference("stories260K_reference.json"), "greedy_from_bos_ids");
        Assert.That(greedy, Is.EqualTo(golden[1..(expected.Length + 1)]), "back to argmax: the graph was recaptured");
        Assert.That(llama.GraphCaptures, Is.EqualTo(2));
    }

    [Test]
    public void StepwiseLayers_MatchCpuLlamaLayerByLayer_AndForward()
    {
        LlamaModel model = ModelTestSupport.Stories260K;
        LlamaConfig c = model.Config;
        int[] tokens = [1, 403, 407];
        using var cpu = new CpuLlama(model, 0, 1);
        using var llama = new CudaLlama(_device, model, WeightDType.F32);
        var hidden = new float[c.Dim];
        var logits = new float[c.Vocab];
        var cpuLogits = new float[c.Vocab];
        var normed = new float[c.Dim];
        for (int pos = 0; pos < tokens.Length; pos++)
        {
            cpu.Embed(tokens[pos]);
            llama.Embed(tokens[pos]);
            for (int l = 0; l < c.NLayers; l++)
            {
                cpu.Layer(l, pos);
                llama.Layer(l, pos);
                llama.ReadHidden(hidden);
                KernelTestSupport.AssertClose(hidden, cpu.Hidden.ToArray(), 1e-4, 1e-4, $"hidden after layer {l} at pos {pos}");
            }
            cpu.Commit(pos, c.NLayers);
            llama.Commit(pos, c.NLayers);
            llama.Logits(logits);
            cpu.FinalNorm(cpu.Hidden, normed);
            cpu.Logits(normed, cpuLogits);
            KernelTestSupport.AssertClose(logits, cpuLogits, 1e-4, 1e-4, $"logits at pos {pos}");
        }
        // The dense step over the same cache reproduces the step-wise logits of the last position.
        float[] forward = llama.Forward(tokens[^1], tokens.Length - 1).ToArray();
        KernelTestSupport.AssertClose(forward, logits, 1e-5, 1e-5, "Forward vs step-wise");
    }

    [Test]
    public void SkippedLayerMask_MatchesCpuWithTheSameDepths()
    {
        // Position 1 "exits" after 2 of 5 layers: later tokens' layers ≥ 2 must not attend to it (part 2's hook).
        LlamaModel model = ModelTestSupport.Stories260K;
        LlamaConfig c = model.Config;
        using var cpu = new CpuLlama(model, 0, 1);
        using var llama = new CudaLlama(_device, model, WeightDType.F32);
        int[] tokens = [1, 403, 407, 261];
        int[] depths = [c.NLayers, 2, c.NLayers, c.NLayers];
        var logits = new float[c.Vocab];
        var cpuLogits = new float[c.Vocab];
        var normed = new float[c.Dim];
        for (int pos = 0; pos < tokens.Length; pos++)
        {
            cpu.Embed(tokens[pos]);
            llama.Embed(tokens[pos]);
            for (int l = 0; l < depths[pos]; l++) { cpu.Layer(l, pos); llama.Layer(l, pos); }
            cpu.Commit(pos, depths[pos]);
            llama.Commit(pos, depths[pos]);
        }
        llama.Logits(logits);
        cpu.FinalNorm(cpu.Hidden, normed);
        cpu.Logits(normed, cpuLogits);
        KernelTestSupport.AssertClose(logits, cpuLogits, 1e-4, 1e-4, "logits after a skipped-layer position");
    }

    [Test]
    public void PromptLongerThanContext_ThrowsInvalidRequest()
    {
        using var llama = new CudaLlama(_device, ModelTestSupport.Stories260K, WeightDType.F32, maxSeq: 8);
        int[] nine = [1, 403, 407, 261, 378, 432, 383, 286, 261];
        var e = Assert.Throws<InvalidRequestException>(() => llama.Prefill(nine, 0));
        Assert.That(e!.Message, Does.Contain("does not fit the context of 8"));
        Assert.Throws<InvalidRequestException>(() => llama.Prefill([1, 403], 7));
        Assert.Throws<InvalidRequestException>(() => llama.Forward(1, 8));
        Assert.Throws<InvalidRequestException>(() => llama.Forward(512, 0));
        Assert.Throws<InvalidRequestException>(() => llama.DecodeOnDevice(1, 4, new int[5]));

        using var backend = new CudaDecoderBackend(ModelTestSupport.Open(kind), ModelTestSupport.Stories260K, WeightDType.F32, kind, maxSeq: 8);
        var g = Assert.Throws<InvalidRequestException>(() => Generator.Run(backend, nine, new GenerationOptions { MaxNewTokens = 4 }));
        Assert.That(g!.Message, Does.Contain("the context holds 8"));
    }
}
