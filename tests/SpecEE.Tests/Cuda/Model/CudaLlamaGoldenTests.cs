using SpecEE.Core.Model;
using SpecEE.Cuda.Device;
using SpecEE.Cuda.Model;

namespace SpecEE.Tests.Cuda.Model;

/// <summary>
/// Whole-model dense decode on the device (the simulator in CI, the GPU where one exists) against independent
/// references: fp32 weights must reproduce the fp64 golden ids of the fixtures exactly; fp16 weights must
/// reproduce the CPU backend's f16 run (same rounded weights, fp32 accumulation) id for id, or differ only
/// at a genuine tie.
/// </summary>
[TestFixture("sim")]
[TestFixture("gpu")]
[NonParallelizable]
public class CudaLlamaGoldenTests(string kind)
{
    private IGpuDevice _device = null!;

    [SetUp]
    public void OpenDevice() => _device = ModelTestSupport.Open(kind);

    [TearDown]
    public void CloseDevice() => _device?.Dispose();

    [Test]
    public void Stories260K_F32_Greedy256FromBos_EqualsGoldenIds()
    {
        var golden = ModelTestSupport.Ints(ModelTestSupport.Reference("stories260K_reference.json"), "greedy_from_bos_ids");
        Assert.That(golden, Has.Length.EqualTo(256));
        using var llama = new CudaLlama(_device, ModelTestSupport.Stories260K, WeightDType.F32);
        var ids = new int[255];
        var sw = System.Diagnostics.Stopwatch.StartNew();
        llama.DecodeOnDevice(golden[0], 0, ids);
        TestContext.Out.WriteLine($"{kind}: 255 steps in {sw.Elapsed.TotalSeconds:F2} s");
        Assert.That((int[])[golden[0], .. ids], Is.EqualTo(golden));
    }

    [Test]
    public void Stories260K_F16_Greedy256FromBos_EqualsCpuF16()
    {
        LlamaModel model = ModelTestSupport.Stories260K.WithDType(WeightDType.F16);
        int bos = model.Config.BosId;
        var (cpu, cpuLogits) = ModelTestSupport.CpuGreedy(model, [bos], 255);
        using var llama = new CudaLlama(_device, model, WeightDType.F16);
        int[] device = ModelTestSupport.DeviceGreedy(llama, [bos], 255, out double seconds);
        TestContext.Out.WriteLine($"{kind}: prefill 1 + 254 steps in {seconds:F2} s");
        ModelTestSupport.AssertEqualOrGenuineTie(device, cpu, cpuLogits, model.Config.Dim, "stories260K f16");
    }

    [Test]
    public void TinyStories16L_F32_Greedy48AfterPrompt_EqualsGoldenIds()
    {
        var reference = ModelTestSupport.Reference("tinystories-16L_reference.json");
        int[] prompt = ModelTestSupport.Ints(reference, "prompt_ids_with_bos");
        int[] golden = ModelTestSupport.Ints(reference, "greedy_128_ids")[..48];
        using var llama = new CudaLlama(_device, ModelTestSupport.TinyStories16L, WeightDType.F32);
        int[] device = ModelTestSupport.DeviceGreedy(llama, prompt, golden.Length, out double seconds);
        TestContext.Out.WriteLine($"{kind}: prefill {prompt.Length} + {golden.Length - 1} steps in {seconds:F2} s");
        Assert.That(device, Is.EqualTo(golden));
    }

    [Test]
    public void TinyStories16L_F16_Greedy48AfterPrompt_EqualsCpuF16()
    {
        var reference = ModelTestSupport.Reference("tinystories-16L_reference.json");
        int[] prompt = ModelTestSupport.Ints(reference, "prompt_ids_with_bos");
        LlamaModel model = ModelTestSupport.TinyStories16L.WithDType(WeightDType.F16);
        var (cpu, cpuLogits) = ModelTestSupport.CpuGreedy(model, prompt, 48);
        using var llama = new CudaLlama(_device, model, WeightDType.F16);
        int[] device = ModelTestSupport.DeviceGreedy(llama, prompt, 48, out double seconds);
        TestContext.Out.WriteLine($"{kind}: prefill {prompt.Length} + 47 steps in {seconds:F2} s");
        ModelTestSupport.AssertEqualOrGenuineTie(device, cpu, cpuLogits, model.Config.Dim, "tinystories-16L f16");
    }

    [Test]
    public void TinyStories16L_F32_PrefillLogits_MatchGoldenLogits()
    {
        var reference = ModelTestSupport.Reference("tinystories-16L_reference.json");
        int[] prompt = ModelTestSupport.Ints(reference, "prompt_ids_with_bos");
        using var llama = new CudaLlama(_device, ModelTestSupport.TinyStories16L, WeightDType.F32);
        float[] first = llama.Forward(prompt[0], 0).ToArray();
        SpecEE.Tests.Cuda.Kernels.KernelTestSupport.AssertClose(first, ModelTestSupport.Floats(reference, "prompt_position0_logits"), 1e-4, 0, "position 0 logits");
        llama.Reset();
        float[] last = llama.Prefill(prompt, 0).ToArray();
        SpecEE.Tests.Cuda.Kernels.KernelTestSupport.AssertClose(last, ModelTestSupport.Floats(reference, "prompt_last_position_logits"), 1e-4, 0, "last prompt position logits");
    }
}
