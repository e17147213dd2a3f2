using System.Text;
using SpecEE.Core.Model;
using SpecEE.Cuda.Device;

namespace SpecEE.Tests.Cuda.Kernels;

/// <summary>
/// Shared pieces of the decode-kernel tests (embed, rmsnorm, qkv_rope, attention): the devices they run on
/// (the simulator always, a GPU where one exists), the model shapes they use, buffers and the tolerance check.
/// </summary>
internal static class DecodeKernelHarness
{
    /// <summary>Device kinds every kernel test runs on; absent ones make the case ignored, not passed.</summary>
    public static readonly string[] Devices = ["sim", "gpu"];

    /// <summary>
    /// Layer shapes of the two fixtures (tinystories-16L: dim 128, heads 4/2, headDim 32, vocab 512;
    /// stories260K: dim 64, heads 8/4, headDim 8, vocab 512) and an odd one (headDim 20: a lane group with idle
    /// lanes; vocab 333), plus two wide ones that reach the code paths of real models: "wide" (dim 1536, headDim 128
    /// as in Llama-2-7B, GQA 3: the unrolled 4-packets-in-flight GEMV loop) and "hd256" (the two-slice attention
    /// path). Three layers and a short cache keep the buffers small; only the per-layer shape matters.
    /// </summary>
    public static readonly Dictionary<string, LlamaConfig> Shapes = new()
    {
        ["tinystories-16L"] = new() { Dim = 128, HiddenDim = 384, NLayers = 3, NHeads = 4, NKvHeads = 2, Vocab = 512, MaxSeq = 80 },
        ["stories260K"] = new() { Dim = 64, HiddenDim = 172, NLayers = 3, NHeads = 8, NKvHeads = 4, Vocab = 512, MaxSeq = 80 },
        ["odd"] = new() { Dim = 200, HiddenDim = 520, NLayers = 3, NHeads = 10, NKvHeads = 5, Vocab = 333, MaxSeq = 80 },
        ["wide"] = new() { Dim = 1536, HiddenDim = 4096, NLayers = 3, NHeads = 12, NKvHeads = 4, Vocab = 100, MaxSeq = 80 },
        ["hd256"] = new() { Dim = 512, HiddenDim = 1024, NLayers = 3, NHeads = 2, NKvHeads = 1, Vocab = 100, MaxSeq = 80 },
    };

    /// <summary>Every (device, shape) pair, named for the test explorer.</summary>
    public static IEnumerable<TestCaseData> DeviceAndShape() =>
        from d in Devices from s in Shapes.Keys select new TestCaseData(d, s).SetArgDisplayNames(d, s);

    /// <summary>The simulator (two workers) or the first GPU; ignores the test when that device is absent.</summary>
    public static IGpuDevice Open(string kind)
    {
        if (kind == "gpu") return CudaTestSupport.RequireGpu();
        if (!SimDevice.IsAvailable(out string why)) CudaTestSupport.Unavailable("SPECEE_REQUIRE_SIM", why);
        return SimDevice.Open(workerCount: 2);
    }

    /// <summary>Uniform values in [−scale, scale).</summary>
    public static float[] Random(Random rng, int n, float scale = 1f)
    {
        var a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float)(rng.NextDouble() * 2 - 1) * scale;
        return a;
    }

    /// <summary>The values rounded to fp16 and back (what an f16 weight holds).</summary>
    public static float[] RoundToHalf(float[] a) => a.Select(v => (float)(Half)v).ToArray();

    public static GpuBuffer Upload<T>(IGpuDevice device, T[] data) where T : unmanaged
    {
        GpuBuffer buffer = device.Allocate((long)data.Length * System.Runtime.CompilerServices.Unsafe.SizeOf<T>());
        device.CopyToDevice(buffer.Ptr, data.AsSpan());
        return buffer;
    }

    /// <summary>Weights as the device holds them: fp16 bits or fp32.</summary>
    public static GpuBuffer UploadWeights(IGpuDevice device, float[] w, WeightDType dtype) =>
        dtype == WeightDType.F16 ? Upload(device, w.Select(v => (Half)v).ToArray()) : Upload(device, w);

    /// <summary>A buffer of <paramref name="floats"/> f32 filled with NaN, so an unwritten output fails.</summary>
    public static GpuBuffer NaNBuffer(IGpuDevice device, long floats)
    {
        GpuBuffer buffer = device.Allocate(floats * 4);
        device.Memset8(buffer.Ptr, 0xFF, floats * 4);
        return buffer;
    }

    public static float[] Download(IGpuDevice device, GpuBuffer buffer, long floats)
    {
        var a = new float[floats];
        device.Synchronize();
        device.CopyToHost(a.AsSpan(), buffer.Ptr);
        return a;
    }

    /// <summary>
    /// Asserts |actual − expected| ≤ atol + rtol·|expected| element-wise (NaN never passes), listing the first
    /// mismatches with their indices.
    /// </summary>
    public static void AssertClose(ReadOnlySpan<float> actual, ReadOnlySpan<float> expected, float atol, float rtol, string what)
    {
        Assert.That(actual.Length, Is.EqualTo(expected.Length), what + ": length");
        var report = new StringBuilder();
        int bad = 0;
        double worst = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            double err = Math.Abs((double)actual[i] - expected[i]);
            double allowed = atol + rtol * Math.Abs((double)expected[i]);
            if (err <= allowed) { worst = Math.Max(worst, err); continue; }
            if (bad++ < 8) report.Append($"\n  [{i}] got {actual[i]:R}, expected {expected[i]:R} (|diff| {err:G3} > {allowed:G3})");
        }
        if (bad > 0) Assert.Fail($"{what}: {bad} of {expected.Length} values outside atol {atol} + rtol {rtol}:{report}");
        TestContext.Out.WriteLine($"{what}: max |diff| {worst:G3} over {expected.Length} values");
    }
}
