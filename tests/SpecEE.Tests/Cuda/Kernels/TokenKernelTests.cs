using SpecEE.Core.Model;
using SpecEE.Core.Sampling;
using SpecEE.Cpu;
using SpecEE.Cuda.Device;
using SpecEE.Cuda.Interop;
using SpecEE.Cuda.Kernels;
using static SpecEE.Tests.Cuda.Kernels.KernelTestSupport;

namespace SpecEE.Tests.Cuda.Kernels;

/// <summary>
/// Token choice on the device: argmax_f32 (after lm_head) and sample_f32, against
/// SpecEE.Core.Sampling.Sampler (the CPU backend's picker) on the same logits and seeds.
/// </summary>
[TestFixture("sim")]
[TestFixture("gpu")]
public class TokenKernelTests(string kind)
{
    private IGpuDevice _device = null!;
    private GpuStream _stream = null!;
    private ArgmaxKernel _argmax = null!;
    private SampleKernel _sample = null!;

    [OneTimeSetUp]
    public void OpenDevice()
    {
        _device = KernelTestSupport.Open(kind);
        _stream = _device.CreateStream();
        _argmax = new ArgmaxKernel(_device);
        _sample = new SampleKernel(_device);
    }

    [OneTimeTearDown]
    public void Close()
    {
        _argmax?.Dispose();
        _sample?.Dispose();
        _stream?.Dispose();
        _device?.Dispose();
    }

    private int DeviceArgmax(float[] logits)
    {
        using GpuBuffer dL = Upload(_device, logits), dTok = _device.Allocate(4);
        _device.Memset8(dTok.Ptr, 0xFF, 4);
        _argmax.Launch(dTok.Ptr, dL.Ptr, logits.Length, _stream);
        _device.Synchronize(_stream);
        var tok = new int[1];
        _device.CopyToHost(tok.AsSpan(), dTok.Ptr);
        return tok[0];
    }

    /// <summary>
    /// lm_head then argmax on the device, classifier rows 100 and 300 identical and the largest logit: the
    /// two logits are bitwise equal (same row, same order), so the lowest index (100) must win, as on the CPU.
    /// </summary>
    [TestCase(512, 128)]   // tinystories-16L
    [TestCase(512, 64)]    // stories260K
    [TestCase(2000, 40)]
    public void LmHeadArgmax_F16_MatchesCpuReference_PlantedTieGoesToLowestIndex(int vocab, int dim) => CheckLmHeadArgmax(WeightDType.F16, vocab, dim);

    [TestCase(512, 128)]
    [TestCase(2000, 40)]
    public void LmHeadArgmax_F32_MatchesCpuReference_PlantedTieGoesToLowestIndex(int vocab, int dim) => CheckLmHeadArgmax(WeightDType.F32, vocab, dim);

    private void CheckLmHeadArgmax(WeightDType dt, int vocab, int dim)
    {
        float[] x = Uniform(51, dim, 1f);
        float[] w = Uniform(52, vocab * dim, 1f / MathF.Sqrt(dim));
        for (int c = 0; c < dim; c++) w[100 * dim + c] = w[300 * dim + c] = x[c] * 4f / dim; // logit ≈ 4·|x|²/dim ≫ others
        float[] wRef = dt == WeightDType.F16 ? RoundToHalf(w) : w;
        float[] cpuLogits = new float[vocab];
        CpuKernels.Gemv(wRef, x, cpuLogits, dim, 0, vocab, accumulate: false);
        Assert.That(Sampler.Argmax(cpuLogits), Is.EqualTo(100), "the planted tie on the CPU");

        using var gemv = new GemvKernel(_device, dt);
        using GpuBuffer dW = Upload(_device, w, asHalf: dt == WeightDType.F16), dX = Upload(_device, x);
        using GpuBuffer dLogits = NaNs(_device, vocab), step = _device.Allocate(StepState.Bytes);
        int[] state = Enumerable.Range(1000, StepState.Count).ToArray(); // sentinels: only NextToken may change
        _device.CopyToDevice(step.Ptr, state.AsSpan());
        gemv.LmHead(dLogits.Ptr, dW.Ptr, dX.Ptr, vocab, dim, _stream);
        _argmax.Launch(StepState.Field(step, StepState.NextToken), dLogits.Ptr, vocab, _stream);
        _device.Synchronize(_stream);
        var after = new int[StepState.Count];
        _device.CopyToHost(after.AsSpan(), step.Ptr);
        int[] tok = [after[StepState.NextToken]];
        state[StepState.NextToken] = 100;
        Assert.That(after, Is.EqualTo(state), "argmax writes the step-state NextToken field and nothing else");
        float[] logits = Download(_device, dLogits, vocab);

        Assert.That(logits[300], Is.EqualTo(logits[100]), "identical rows give bitwise-equal logits");
        Assert.That(tok[0], Is.EqualTo(100));
        AssertClose(logits, cpuLogits, 2e-5, 1e-4, "logits");
    }

    [Test]
    public void Argmax_RandomLogits_EqualsSampler([Values(1, 33, 512, 5000, 32000)] int n)
    {
        float[] logits = Uniform(60 + n, n, 10f);
        Assert.That(DeviceArgmax(logits), Is.EqualTo(Sampler.Argmax(logits)));
    }

    [Test]
    public void Argmax_TiesNaNAndInfinities_FollowTheSamplerRule()
    {
        float[] a = Uniform(70, 5000, 1f);
        a[4321] = 7f; a[1234] = 7f; a[4999] = 7f; // ties in different threads' slices → lowest index
        Assert.That(DeviceArgmax(a), Is.EqualTo(1234));

        float[] b = Uniform(71, 3000, 1f);
        b[0] = float.NaN; b[17] = float.NaN; b[2999] = 5f; // NaN never wins; the max at the very end does
        Assert.That(DeviceArgmax(b), Is.EqualTo(2999));

        float[] c = Enumerable.Repeat(float.NegativeInfinity, 100).ToArray();
        Assert.That(DeviceArgmax(c), Is.EqualTo(0), "nothing > −inf → 0, like Sampler.Argmax");
        c[0] = float.NaN;
        Assert.That(DeviceArgmax(c), Is.EqualTo(0), "[NaN, −inf, ...] → 0");
        Assert.That(DeviceArgmax(Enumerable.Repeat(float.NaN, 40).ToArray()), Is.EqualTo(0), "all NaN → 0");
        float[] d = Enumerable.Repeat(float.NegativeInfinity, 50).ToArray();
        d[31] = float.PositiveInfinity; d[40] = float.PositiveInfinity;
        Assert.That(DeviceArgmax(d), Is.EqualTo(31), "+inf ties: lowest index");
        foreach (float[] v in new[] { a, b, c, d }) Assert.That(DeviceArgmax(v), Is.EqualTo(Sampler.Argmax(v)));
    }

    private int[] DeviceSamples(float[] logits, float temperature, float topP, ulong seed, int draws, out ulong finalState)
    {
        int n = logits.Length;
        using GpuBuffer dL = Upload(_device, logits), dProbs = NaNs(_device, n), dTok = _device.Allocate(4L * draws), dRng = _device.Allocate(8);
        CUdeviceptr rng = dRng.Ptr;
        _device.CopyToDevice(rng, new[] { seed }.AsSpan());
        _device.Memset8(dTok.Ptr, 0xFF, 4L * draws);
        for (int i = 0; i < draws; i++)
            _sample.Launch(dTok.At(4L * i, 4), dProbs.Ptr, rng, dL.Ptr, n, temperature, topP, _stream);
        _device.Synchronize(_stream);
        var tokens = new int[draws];
        _device.CopyToHost(tokens.AsSpan(), dTok.Ptr);
        var state = new ulong[1];
        _device.CopyToHost(state.AsSpan(), rng);
        finalState = state[0];
        return tokens;
    }

    private void AssertSameDraws(float[] logits, float temperature, float topP, ulong seed, int draws)
    {
        var cpu = new Sampler(temperature, topP, seed);
        int[] expected = Enumerable.Range(0, draws).Select(_ => cpu.Sample(logits)).ToArray();
        if (topP >= 0.5f)
            Assert.That(expected.Distinct().Count(), Is.GreaterThan(Math.Min(2, draws / 3)), "a sampling test whose draws are all one token proves little");
        int[] actual = DeviceSamples(logits, temperature, topP, seed, draws, out ulong state);
        Assert.That(actual, Is.EqualTo(expected), $"T {temperature}, top-p {topP}, seed {seed}");
        // SplitMix64 advances its state by the golden-ratio increment once per draw.
        Assert.That(state, Is.EqualTo(unchecked(seed + (ulong)draws * 0x9E3779B97F4A7C15UL)), "RNG state after the draws");
    }

    [TestCase(0.8f, 1f, 0UL)]
    [TestCase(1.0f, 1f, 42UL)]
    [TestCase(0.8f, 0.9f, 7UL)]
    [TestCase(1.5f, 0.5f, 123456789UL)]
    [TestCase(0.7f, 0.05f, 3UL)]
    public void Sample_MatchesCpuSamplerDrawForDraw(float temperature, float topP, ulong seed)
    {
        float[] logits = Uniform(80 + (int)seed, 512, 4f);
        AssertSameDraws(logits, temperature, topP, seed, 48);
    }

    /// <summary>Vocabularies that take many warps (5000 → 10 warps, 32000 → 32): the cross-warp scans and sums.</summary>
    [Test]
    public void Sample_LargeVocab_MatchesCpuSampler([Values(5000, 32000)] int n, [Values(1f, 0.9f)] float topP)
    {
        float[] logits = Uniform(300 + n, n, 6f);
        AssertSameDraws(logits, 0.8f, topP, 11UL, 6);
    }

    /// <summary>Many exactly equal probabilities: the sorted order's tie rule (lower id first) decides.</summary>
    [TestCase(1f)]
    [TestCase(0.95f)]
    [TestCase(0.5f)]
    [TestCase(0.2f)]
    public void Sample_TiedProbabilities_MatchCpuSampler(float topP)
    {
        float[] logits = Enumerable.Range(0, 700).Select(i => (float)(i * 37 % 7) * 0.5f).ToArray();
        logits[5] = float.NaN; // NaN logits get probability 0 on both
        AssertSameDraws(logits, 1f, topP, 99UL, 40);
        AssertSameDraws(new float[300], 0.9f, topP, 5UL, 20); // all equal: uniform
    }

    /// <summary>
    /// argmax and sample captured once in a graph, replayed for new logits: every replay reads the logits and
    /// the RNG state from device memory, so it follows a CPU Sampler that sees the same logits in turn.
    /// </summary>
    [Test]
    public void ArgmaxAndSample_OneGraphReplayed_FollowDeviceMemory()
    {
        const int n = 512, steps = 6;
        using GpuBuffer dL = NaNs(_device, n), dProbs = NaNs(_device, n), step = _device.Allocate(StepState.Bytes), dGreedy = _device.Allocate(4);
        using GpuBuffer dRng = _device.Allocate(8);
        _device.Memset8(step.Ptr, 0, StepState.Bytes);
        _device.CopyToDevice(dRng.Ptr, new[] { 2024UL }.AsSpan());
        _device.BeginCapture(_stream);
        _argmax.Launch(dGreedy.Ptr, dL.Ptr, n, _stream);
        _sample.Launch(StepState.Field(step, StepState.NextToken), dProbs.Ptr, dRng.Ptr, dL.Ptr, n, 0.9f, 0.8f, _stream);
        using GpuGraph graph = _device.EndCapture(_stream);

        var cpu = new Sampler(0.9f, 0.8f, 2024UL);
        for (int s = 0; s < steps; s++)
        {
            float[] logits = Uniform(500 + s, n, 3f);
            _device.CopyToDevice(dL.Ptr, logits.AsSpan());
            _device.Launch(graph, _stream);
            _device.Synchronize(_stream);
            var greedy = new int[1];
            var state = new int[StepState.Count];
            _device.CopyToHost(greedy.AsSpan(), dGreedy.Ptr);
            _device.CopyToHost(state.AsSpan(), step.Ptr);
            Assert.That(greedy[0], Is.EqualTo(Sampler.Argmax(logits)), $"replay {s}: argmax");
            Assert.That(state[StepState.NextToken], Is.EqualTo(cpu.Sample(logits)), $"replay {s}: sample");
        }
    }

    [Test]
    public void Sample_RejectsGreedyAndBadTopP()
    {
        using GpuBuffer b = _device.Allocate(64);
        Assert.Throws<SpecEE.Core.InvalidRequestException>(() => _sample.Launch(b.Ptr, b.Ptr, b.Ptr, b.Ptr, 4, 0f, 1f, _stream));
        Assert.Throws<SpecEE.Core.InvalidRequestException>(() => _sample.Launch(b.Ptr, b.Ptr, b.Ptr, b.Ptr, 4, 1f, 0f, _stream));
    }
}
