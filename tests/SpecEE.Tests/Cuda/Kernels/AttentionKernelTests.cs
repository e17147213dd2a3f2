using SpecEE.Core.Model;
using SpecEE.Cpu;
using SpecEE.Cuda.Device;
using SpecEE.Cuda.Kernels;
using static SpecEE.Tests.Cuda.Kernels.DecodeKernelHarness;

namespace SpecEE.Tests.Cuda.Kernels;

/// <summary>
/// attention_f32 + attention_combine_f32 against the CPU backend's own attention (CpuDecoderLayer.VisiblePositions
/// for the skipped-layer mask, then Attention.Attend), over split layouts that cover pos 0, empty splits, a last
/// split shorter than the others, a split the mask hides completely, and GQA in every shape.
/// </summary>
public class AttentionKernelTests
{
    private const int Layer = 1;

    /// <summary>Cache length of these tests: long enough that a lane group runs several iterations of its loop.</summary>
    private const int MaxSeq = 640;

    /// <summary>
    /// One launch: position, split count, shortest split, whether depth[] hides positions, and a factor on q
    /// (large: scores in the hundreds, where a softmax without the running max would overflow).
    /// </summary>
    private readonly record struct Case(int Pos, int NSplits, int MinSplitLen, bool Masked, float QScale = 1f);

    private static readonly Case[] Cases =
    [
        new(0, 1, 64, false),   // pos 0: one visible position
        new(0, 4, 8, false),    // pos 0 with three empty splits
        new(5, 4, 16, false),   // short sequence: only split 0 has work
        new(36, 4, 8, false),   // seqLen 37, chunk 10: the last split holds 7
        new(36, 4, 8, true),    // ... with split [10, 20) entirely masked and depth[pos] = 0
        new(50, 1, 64, true),   // one split longer than a block's lane groups
        new(79, 3, 16, true),   // chunk 27
        new(400, 1, 64, false), // 401 positions in one block: several loop iterations per lane group
        new(639, 2, 64, true),  // the last cache row, 320 per split
        new(639, 5, 64, false, 60f), // chunk 128; scores in the hundreds
    ];

    [TestCaseSource(typeof(DecodeKernelHarness), nameof(DeviceAndShape))]
    public void Attention_F32_MatchesCpuReference(string kind, string shape)
    {
        LlamaConfig cfg = Shapes[shape];
        using IGpuDevice device = Open(kind);
        using var kernel = new AttentionKernel(device);
        int hd = cfg.HeadDim, qDim = cfg.NHeads * hd, kvDim = cfg.KvDim, maxSeq = MaxSeq;
        long cacheFloats = (long)cfg.NLayers * maxSeq * kvDim;
        var rng = new Random(hd * 7 + qDim);
        float[] keys = Random(rng, (int)cacheFloats, 1.5f), values = Random(rng, (int)cacheFloats, 1f);
        float[] q = Random(rng, qDim, 1.5f);
        var layerKeys = keys.AsSpan(Layer * maxSeq * kvDim, maxSeq * kvDim).ToArray();
        var layerValues = values.AsSpan(Layer * maxSeq * kvDim, maxSeq * kvDim).ToArray();

        using GpuBuffer dKeys = Upload(device, keys), dValues = Upload(device, values), dQ = NaNBuffer(device, qDim);
        using GpuBuffer step = Upload(device, new int[StepState.Count]);
        using GpuBuffer depth = device.Allocate(maxSeq * 4L);
        using GpuBuffer output = NaNBuffer(device, qDim);
        using GpuBuffer partial = NaNBuffer(device, AttentionKernel.PartialBytes(cfg.NHeads, 5, hd) / 4);
        using GpuStream stream = device.CreateStream();

        foreach (Case c in Cases)
        {
            float[] qCase = q.Select(v => v * c.QScale).ToArray();
            device.CopyToDevice(dQ.Ptr, qCase.AsSpan());
            int[] depthHost = MakeDepth(cfg, maxSeq, c);
            device.CopyToDevice(depth.Ptr, depthHost.AsSpan());
            device.CopyToDevice(StepState.Field(step, StepState.Pos), new[] { c.Pos }.AsSpan());
            device.Memset8(output.Ptr, 0xFF, qDim * 4L);

            kernel.Launch(output, partial, dQ, dKeys, dValues, depth, StepState.Field(step, StepState.Pos),
                cfg, maxSeq, Layer, c.NSplits, c.MinSplitLen, stream);
            float[] got = Download(device, output, qDim);

            var visible = new int[maxSeq];
            int n = CpuDecoderLayer.VisiblePositions(depthHost, Layer, c.Pos, visible);
            var expected = new float[qDim];
            if (c.QScale == 1f)
                Attention.Attend(cfg, qCase, layerKeys, layerValues, visible.AsSpan(0, n), new float[maxSeq], expected);
            else
                // The CPU backend's softmax (TensorPrimitives.SoftMax) does not subtract the maximum and overflows to
                // NaN once a score passes ~88, so large scores are checked against a max-subtracted fp64 softmax.
                AttendInDouble(cfg, qCase, layerKeys, layerValues, visible.AsSpan(0, n), expected);
            AssertClose(got, expected, 1e-5f, 1e-4f, $"{c} ({n} visible)");

            // Fixed reduction order: the same launch again gives the same bits.
            kernel.Launch(output, partial, dQ, dKeys, dValues, depth, StepState.Field(step, StepState.Pos),
                cfg, maxSeq, Layer, c.NSplits, c.MinSplitLen, stream);
            Assert.That(Download(device, output, qDim), Is.EqualTo(got), $"{c}: rerun must be bitwise equal");
        }
    }

    [TestCaseSource(typeof(DecodeKernelHarness), nameof(DeviceAndShape))]
    public void Attention_F32_Batched_EachTokenMatchesCpuReference(string kind, string shape)
    {
        // Prefill: five query tokens at positions 36..40 in one launch, each with its own causal limit; the
        // skipped-layer mask applies to earlier positions as in decode.
        LlamaConfig cfg = Shapes[shape];
        const int nTok = 5, firstPos = 36, nSplits = 3, minSplitLen = 8;
        using IGpuDevice device = Open(kind);
        using var kernel = new AttentionKernel(device);
        int hd = cfg.HeadDim, qDim = cfg.NHeads * hd, kvDim = cfg.KvDim, maxSeq = cfg.MaxSeq;
        long cacheFloats = (long)cfg.NLayers * maxSeq * kvDim;
        var rng = new Random(hd * 13 + qDim);
        float[] keys = Random(rng, (int)cacheFloats, 1.5f), values = Random(rng, (int)cacheFloats, 1f), q = Random(rng, nTok * qDim, 1.5f);
        int[] depthHost = Enumerable.Range(0, maxSeq).Select(t => t % 3 == 0 ? 1 : cfg.NLayers).ToArray(); // every third hidden from layer 1
        var layerKeys = keys.AsSpan(Layer * maxSeq * kvDim, maxSeq * kvDim).ToArray();
        var layerValues = values.AsSpan(Layer * maxSeq * kvDim, maxSeq * kvDim).ToArray();

        using GpuBuffer dKeys = Upload(device, keys), dValues = Upload(device, values), dQ = Upload(device, q), depth = Upload(device, depthHost);
        using GpuBuffer positions = Upload(device, Enumerable.Range(firstPos, nTok).ToArray());
        using GpuBuffer output = NaNBuffer(device, nTok * qDim);
        using GpuBuffer partial = NaNBuffer(device, nTok * AttentionKernel.PartialBytes(cfg.NHeads, nSplits, hd) / 4);
        using GpuStream stream = device.CreateStream();

        kernel.LaunchBatched(output, partial, dQ, dKeys, dValues, depth, positions.Ptr, nTok, cfg, maxSeq, Layer, nSplits, minSplitLen, stream);

        float[] got = Download(device, output, nTok * qDim);
        var visible = new int[maxSeq];
        for (int t = 0; t < nTok; t++)
        {
            int n = CpuDecoderLayer.VisiblePositions(depthHost, Layer, firstPos + t, visible);
            var expected = new float[qDim];
            Attention.Attend(cfg, q.AsSpan(t * qDim, qDim), layerKeys, layerValues, visible.AsSpan(0, n), new float[maxSeq], expected);
            AssertClose(got.AsSpan(t * qDim, qDim), expected, 1e-5f, 1e-4f, $"token {t} at pos {firstPos + t} ({n} visible)");
        }
    }

    /// <summary>out[h] = Σ_i softmax_i(q_h·K[v_i, g]/√headDim)·V[v_i, g] in fp64 with the running maximum subtracted.</summary>
    private static void AttendInDouble(LlamaConfig cfg, float[] q, float[] keys, float[] values, ReadOnlySpan<int> visible, float[] output)
    {
        int hd = cfg.HeadDim, kvDim = cfg.KvDim;
        var scores = new double[visible.Length];
        for (int h = 0; h < cfg.NHeads; h++)
        {
            int kv = h / cfg.GqaGroup * hd;
            for (int i = 0; i < visible.Length; i++)
            {
                double dot = 0;
                for (int d = 0; d < hd; d++) dot += (double)q[h * hd + d] * keys[visible[i] * kvDim + kv + d];
                scores[i] = dot / Math.Sqrt(hd);
            }
            double max = scores.Max(), sum = scores.Sum(s => Math.Exp(s - max));
            for (int d = 0; d < hd; d++)
            {
                double acc = 0;
                for (int i = 0; i < visible.Length; i++) acc += Math.Exp(scores[i] - max) / sum * values[visible[i] * kvDim + kv + d];
                output[h * hd + d] = (float)acc;
            }
        }
    }

    /// <summary>
    /// Dense: every position ran all layers. Masked: position t ran (t % 4) layers, so layer 1 sees only t % 4 ≥ 2;
    /// positions 10..19 ran one layer (hidden from layer 1: a whole split of the 4-split case), and the current
    /// position has depth 0 (not committed yet) but is always visible.
    /// </summary>
    private static int[] MakeDepth(LlamaConfig cfg, int maxSeq, Case c)
    {
        var depth = new int[maxSeq];
        for (int t = 0; t < maxSeq; t++)
            depth[t] = !c.Masked ? cfg.NLayers : t is >= 10 and < 20 ? 1 : t % 4;
        if (c.Masked) depth[c.Pos] = 0;
        return depth;
    }

    [TestCaseSource(typeof(DecodeKernelHarness), nameof(Devices))]
    public void QkvRopeThenAttention_OneGraphReplayedAtSuccessivePositions_MatchesCpuLayer(string kind)
    {
        // The decode contract: capture once, then each step only writes the step-state block and replays.
        LlamaConfig cfg = Shapes["tinystories-16L"];
        using IGpuDevice device = Open(kind);
        using var qkv = new QkvRopeKernel(device, WeightDType.F16);
        using var attention = new AttentionKernel(device);
        int dim = cfg.Dim, hd = cfg.HeadDim, qDim = cfg.NHeads * hd, kvDim = cfg.KvDim, maxSeq = 24, rows = qDim + 2 * kvDim;
        long cacheFloats = (long)cfg.NLayers * maxSeq * kvDim;
        const int nSplits = 3, minSplitLen = 4, steps = 14;
        var rng = new Random(5);
        float[] w = RoundToHalf(Random(rng, rows * dim, 0.25f));
        var xs = Enumerable.Range(0, steps).Select(_ => Random(rng, dim, 2f)).ToArray();

        using GpuBuffer dW = UploadWeights(device, w, WeightDType.F16), dX = NaNBuffer(device, dim);
        using GpuBuffer rope = QkvRopeKernel.UploadRopeTable(device, hd, maxSeq, cfg.RopeTheta);
        using GpuBuffer step = Upload(device, new int[StepState.Count]);
        using GpuBuffer depth = Upload(device, Enumerable.Repeat(cfg.NLayers, maxSeq).ToArray());
        using GpuBuffer q = NaNBuffer(device, qDim), output = NaNBuffer(device, qDim);
        using GpuBuffer keys = NaNBuffer(device, cacheFloats), values = NaNBuffer(device, cacheFloats);
        using GpuBuffer partial = NaNBuffer(device, AttentionKernel.PartialBytes(cfg.NHeads, nSplits, hd) / 4);
        using GpuStream stream = device.CreateStream();

        var pos = StepState.Field(step, StepState.Pos);
        device.BeginCapture(stream);
        qkv.Launch(q, keys, values, dW, dX, rope, pos, cfg, maxSeq, Layer, stream);
        attention.Launch(output, partial, q, keys, values, depth, pos, cfg, maxSeq, Layer, nSplits, minSplitLen, stream);
        using GpuGraph graph = device.EndCapture(stream);

        var rt = new RopeTable(hd, maxSeq, cfg.RopeTheta);
        var cpuKeys = new float[maxSeq * kvDim];
        var cpuValues = new float[maxSeq * kvDim];
        var visible = new int[maxSeq];
        for (int p = 0; p < steps; p++)
        {
            device.CopyToDevice(dX.Ptr, xs[p].AsSpan());
            device.CopyToDevice(StepState.Field(step, StepState.Pos), new[] { p }.AsSpan());
            device.Launch(graph, stream);
            device.Synchronize(stream);

            var qRef = new float[qDim];
            CpuKernels.Gemv(w.AsSpan(0, qDim * dim), xs[p], qRef, dim, 0, qDim, accumulate: false);
            CpuKernels.Gemv(w.AsSpan(qDim * dim, kvDim * dim), xs[p], cpuKeys.AsSpan(p * kvDim, kvDim), dim, 0, kvDim, accumulate: false);
            CpuKernels.Gemv(w.AsSpan((qDim + kvDim) * dim, kvDim * dim), xs[p], cpuValues.AsSpan(p * kvDim, kvDim), dim, 0, kvDim, accumulate: false);
            rt.Apply(qRef, p);
            rt.Apply(cpuKeys.AsSpan(p * kvDim, kvDim), p);
            int n = CpuDecoderLayer.VisiblePositions(ReadOnlySpan<int>.Empty, Layer, p, visible);
            var expected = new float[qDim];
            Attention.Attend(cfg, qRef, cpuKeys, cpuValues, visible.AsSpan(0, n), new float[maxSeq], expected);
            AssertClose(Download(device, output, qDim), expected, 1e-5f, 1e-4f, $"step at pos {p}");
        }
    }
}
