using SpecEE.Core.EarlyExit;
using SpecEE.Cpu;
using SpecEE.Cuda.Device;
using SpecEE.Cuda.Kernels;
using SpecEE.Tests.EarlyExit;
using static SpecEE.Tests.Cuda.Kernels.DecodeKernelHarness;

namespace SpecEE.Tests.Cuda.Kernels;

/// <summary>top4_f32 against SpecEE.Cpu's EagleHead.TopK (the CPU engine's candidate pick), ties included.</summary>
public class TopKKernelTests
{
    private static int[] DeviceTop4(IGpuDevice device, float[] logits)
    {
        using var kernel = new TopKKernel(device);
        using GpuBuffer dLogits = Upload(device, logits), ids = Upload(device, new[] { -9, -9, -9, -9 });
        using GpuStream stream = device.CreateStream();
        kernel.Launch(ids.Ptr, dLogits.Ptr, logits.Length, stream);
        var got = new int[4];
        device.Synchronize();
        device.CopyToHost(got.AsSpan(), ids.Ptr);
        return got;
    }

    private static IEnumerable<TestCaseData> Cases() =>
        from d in Devices
        from n in new[] { 4, 5, 333, 512, 32000 }
        from levels in new[] { 0, 7 } // 0: continuous values; 7: only 7 distinct values, so ties everywhere
        select new TestCaseData(d, n, levels).SetArgDisplayNames(d, $"n {n}", levels == 0 ? "distinct" : $"{levels} levels");

    [TestCaseSource(nameof(Cases))]
    public void Top4_MatchesCpuReference_TiesToTheLowerIndex(string kind, int n, int levels)
    {
        using IGpuDevice device = Open(kind);
        var rng = new Random(n * 13 + levels);
        float[] logits = levels == 0 ? Random(rng, n, 8f) : Enumerable.Range(0, n).Select(_ => (float)rng.Next(levels)).ToArray();
        var expected = new int[4];
        EagleHead.TopK(logits, expected);
        Assert.That(DeviceTop4(device, logits), Is.EqualTo(expected));
    }

    [Test]
    public void Top4_WithInfinitiesAndNaN_RanksNaNBelowEveryNumber()
    {
        using IGpuDevice device = Open("sim");
        float[] logits = [float.NaN, float.NegativeInfinity, 1f, float.PositiveInfinity, float.NaN, 1f, -3f, float.NegativeInfinity];
        Assert.That(DeviceTop4(device, logits), Is.EqualTo(new[] { 3, 2, 5, 6 }));
        Assert.That(DeviceTop4(device, [float.NaN, float.NegativeInfinity, float.NaN, 2f, float.NegativeInfinity]), Is.EqualTo(new[] { 3, 0, 1, 2 }),
            "below the numbers, NaN counts as −inf: lower index first");
    }

    [Test]
    public void EagleLogitsAtTheReferencePrompt_GiveTheReferenceCandidates()
    {
        using IGpuDevice device = Open("sim");
        var model = DefaultModel.Model;
        int[] prompt = DefaultModel.Ref("prompt_ids_with_bos");
        int first = DefaultModel.Ref("greedy_128_ids")[0], dim = model.Config.Dim, n = prompt.Length;
        using var llama = new CpuLlama(model, maxSeq: 64, threads: 1);
        var eagle = new EagleHead(DefaultModel.Eagle, model, maxSeq: 64);
        var features = new float[n * dim];
        for (int i = 0; i < n; i++)
        {
            llama.Forward(prompt[i], i);
            llama.FinalNorm(llama.Hidden, features.AsSpan(i * dim, dim));
        }
        for (int i = 0; i + 1 < n; i++) eagle.Step(prompt[i + 1], features.AsSpan(i * dim, dim), i);
        eagle.Step(first, features.AsSpan((n - 1) * dim, dim), n - 1);
        var logits = new float[model.Config.Vocab];
        llama.Logits(eagle.Output, logits); // EAGLE shares the base LM head
        Assert.That(DeviceTop4(device, logits), Is.EqualTo(DefaultModel.Ref("eagle_prompt_top4_after_first_greedy")));
    }

    [Test]
    public void FewerThanFourLogits_IsRefused()
    {
        using IGpuDevice device = Open("sim");
        using var kernel = new TopKKernel(device);
        using GpuBuffer b = device.Allocate(64);
        using GpuStream stream = device.CreateStream();
        Assert.That(() => kernel.Launch(b.Ptr, b.Ptr, 3, stream), Throws.TypeOf<SpecEE.Core.InvalidRequestException>().With.Message.Contains("need at least 4"));
    }
}
