using SpecEE.Core.Model;
using SpecEE.Cpu;
using SpecEE.Cuda.Device;
using SpecEE.Cuda.Kernels;
using static SpecEE.Tests.Cuda.Kernels.DecodeKernelHarness;

namespace SpecEE.Tests.Cuda.Kernels;

/// <summary>
/// qkv_rope_f16 / qkv_rope_f32 against the CPU backend's own steps: CpuKernels.Gemv of Wq/Wk/Wv (fp16-rounded
/// weights for f16), RopeTable.Apply at pos, and the K/V rows the CPU layer writes at (layer, pos).
/// </summary>
public class QkvRopeKernelTests
{
    [TestCaseSource(typeof(DecodeKernelHarness), nameof(DeviceAndShape))]
    public void QkvRope_F16_MatchesCpuReference(string device, string shape) => Run(device, Shapes[shape], WeightDType.F16);

    [TestCaseSource(typeof(DecodeKernelHarness), nameof(DeviceAndShape))]
    public void QkvRope_F32_MatchesCpuReference(string device, string shape) => Run(device, Shapes[shape], WeightDType.F32);

    [TestCaseSource(typeof(DecodeKernelHarness), nameof(Devices))]
    public void QkvRope_F16_LastWarpPartlyIdle_MatchesCpuReference(string device)
    {
        // dim 40 f16 = 5 packets per row → 8 lanes per row pair, 4 pairs per warp; 60 rows = 30 pairs, so the last
        // warp has two pairs of lanes with no row (they must still join the shuffles, and write nothing).
        LlamaConfig cfg = new() { Dim = 40, HiddenDim = 64, NLayers = 3, NHeads = 4, NKvHeads = 1, Vocab = 8, MaxSeq = 80 };
        Run(device, cfg, WeightDType.F16);
    }

    private static void Run(string kind, LlamaConfig cfg, WeightDType dtype)
    {
        using IGpuDevice device = Open(kind);
        using var kernel = new QkvRopeKernel(device, dtype);
        int dim = cfg.Dim, qDim = cfg.NHeads * cfg.HeadDim, kvDim = cfg.KvDim, maxSeq = cfg.MaxSeq, rows = qDim + 2 * kvDim;
        var rng = new Random(dim + (int)dtype);
        float[] w = Random(rng, rows * dim, 0.2f);
        float[] cpuW = dtype == WeightDType.F16 ? RoundToHalf(w) : w;
        float[] xn = Random(rng, dim, 2f);
        var rope = new RopeTable(cfg.HeadDim, maxSeq, cfg.RopeTheta);
        long cacheFloats = (long)cfg.NLayers * maxSeq * kvDim;

        using GpuBuffer dW = UploadWeights(device, w, dtype), dX = Upload(device, xn);
        using GpuBuffer dRope = QkvRopeKernel.UploadRopeTable(device, cfg.HeadDim, maxSeq, cfg.RopeTheta);
        using GpuBuffer step = Upload(device, new int[StepState.Count]);
        using GpuBuffer q = NaNBuffer(device, qDim), keys = NaNBuffer(device, cacheFloats), values = NaNBuffer(device, cacheFloats);
        using GpuStream stream = device.CreateStream();

        const int layer = 1;
        var written = new List<int>();
        foreach (int pos in new[] { 0, 7, maxSeq - 1 })
        {
            device.CopyToDevice(StepState.Field(step, StepState.Pos), new[] { pos }.AsSpan());
            kernel.Launch(q, keys, values, dW, dX, dRope, StepState.Field(step, StepState.Pos), cfg, maxSeq, layer, stream);
            written.Add(pos);

            // CPU: the same three GEMVs and RoPE as CpuDecoderLayer.Run.
            var qRef = new float[qDim];
            var kRef = new float[kvDim];
            var vRef = new float[kvDim];
            CpuKernels.Gemv(cpuW.AsSpan(0, qDim * dim), xn, qRef, dim, 0, qDim, accumulate: false);
            CpuKernels.Gemv(cpuW.AsSpan(qDim * dim, kvDim * dim), xn, kRef, dim, 0, kvDim, accumulate: false);
            CpuKernels.Gemv(cpuW.AsSpan((qDim + kvDim) * dim, kvDim * dim), xn, vRef, dim, 0, kvDim, accumulate: false);
            rope.Apply(qRef, pos);
            rope.Apply(kRef, pos);

            float[] gotQ = Download(device, q, qDim);
            float[] gotK = Download(device, keys, cacheFloats);
            float[] gotV = Download(device, values, cacheFloats);
            long row = ((long)layer * maxSeq + pos) * kvDim;
            AssertClose(gotQ, qRef, 1e-5f, 1e-4f, $"q at pos {pos}");
            AssertClose(gotK.AsSpan((int)row, kvDim), kRef, 1e-5f, 1e-4f, $"K[layer {layer}, pos {pos}]");
            AssertClose(gotV.AsSpan((int)row, kvDim), vRef, 1e-5f, 1e-4f, $"V[layer {layer}, pos {pos}]");

            // Nothing else in the cache was touched: every row not written so far is still the NaN fill.
            for (int l = 0; l < cfg.NLayers; l++)
                for (int p = 0; p < maxSeq; p++)
                {
                    if (l == layer && written.Contains(p)) continue;
                    long r = ((long)l * maxSeq + p) * kvDim;
                    Assert.That(gotK.AsSpan((int)r, kvDim).ToArray(), Has.All.NaN, $"K[{l}, {p}] must be untouched");
                    Assert.That(gotV.AsSpan((int)r, kvDim).ToArray(), Has.All.NaN, $"V[{l}, {p}] must be untouched");
                }
        }
    }

    [TestCaseSource(typeof(DecodeKernelHarness), nameof(DeviceAndShape))]
    public void QkvRope_F16_Batched_MatchesCpuReferencePerToken(string kind, string shape)
    {
        // 11 prompt tokens = one full launch of 8 and one of 3, at positions 5..15 (read from a device array).
        LlamaConfig cfg = Shapes[shape];
        const int nTok = 11, firstPos = 5, layer = 2;
        using IGpuDevice device = Open(kind);
        using var kernel = new QkvRopeKernel(device, WeightDType.F16);
        int dim = cfg.Dim, qDim = cfg.NHeads * cfg.HeadDim, kvDim = cfg.KvDim, maxSeq = cfg.MaxSeq, rows = qDim + 2 * kvDim;
        var rng = new Random(dim + 99);
        float[] w = RoundToHalf(Random(rng, rows * dim, 0.2f));
        float[] xs = Random(rng, nTok * dim, 2f);
        var rope = new RopeTable(cfg.HeadDim, maxSeq, cfg.RopeTheta);
        long cacheFloats = (long)cfg.NLayers * maxSeq * kvDim;

        using GpuBuffer dW = UploadWeights(device, w, WeightDType.F16), dX = Upload(device, xs);
        using GpuBuffer dRope = QkvRopeKernel.UploadRopeTable(device, cfg.HeadDim, maxSeq, cfg.RopeTheta);
        using GpuBuffer positions = Upload(device, Enumerable.Range(firstPos, nTok).ToArray());
        using GpuBuffer q = NaNBuffer(device, nTok * qDim), keys = NaNBuffer(device, cacheFloats), values = NaNBuffer(device, cacheFloats);
        using GpuStream stream = device.CreateStream();

        kernel.LaunchBatched(q, keys, values, dW, dX, dRope, positions.Ptr, nTok, cfg, maxSeq, layer, stream);

        float[] gotQ = Download(device, q, nTok * qDim), gotK = Download(device, keys, cacheFloats), gotV = Download(device, values, cacheFloats);
        for (int t = 0; t < nTok; t++)
        {
            int pos = firstPos + t;
            var x = xs.AsSpan(t * dim, dim);
            float[] qRef = new float[qDim], kRef = new float[kvDim], vRef = new float[kvDim];
            CpuKernels.Gemv(w.AsSpan(0, qDim * dim), x, qRef, dim, 0, qDim, accumulate: false);
            CpuKernels.Gemv(w.AsSpan(qDim * dim, kvDim * dim), x, kRef, dim, 0, kvDim, accumulate: false);
            CpuKernels.Gemv(w.AsSpan((qDim + kvDim) * dim, kvDim * dim), x, vRef, dim, 0, kvDim, accumulate: false);
            rope.Apply(qRef, pos);
            rope.Apply(kRef, pos);
            int row = (layer * maxSeq + pos) * kvDim;
            AssertClose(gotQ.AsSpan(t * qDim, qDim), qRef, 1e-5f, 1e-4f, $"q of token {t} (pos {pos})");
            AssertClose(gotK.AsSpan(row, kvDim), kRef, 1e-5f, 1e-4f, $"K[{layer}, {pos}]");
            AssertClose(gotV.AsSpan(row, kvDim), vRef, 1e-5f, 1e-4f, $"V[{layer}, {pos}]");
        }
        int written = nTok * kvDim, total = (int)cacheFloats;
        Assert.That(gotK.Count(float.IsNaN), Is.EqualTo(total - written), "only the nTok rows of the layer are written");
        Assert.That(gotV.Count(float.IsNaN), Is.EqualTo(total - written), "only the nTok rows of the layer are written");
    }

    [Test]
    public void RopeTable_EqualsCpuRopeTableBitwise()
    {
        // RopeTable.Apply on (1, 0) returns (cos, sin) exactly (1·c − 0·s = c, 1·s + 0·c = s), so the CPU's private
        // table can be read back and compared with the one the device gets.
        const int headDim = 32, maxSeq = 300;
        const float theta = 10000f;
        var cpu = new RopeTable(headDim, maxSeq, theta);
        float[] device = QkvRopeKernel.BuildRopeTable(headDim, maxSeq, theta);
        for (int pos = 0; pos < maxSeq; pos++)
        {
            var unit = new float[headDim];
            for (int i = 0; i < headDim / 2; i++) unit[2 * i] = 1f;
            cpu.Apply(unit, pos);
            for (int i = 0; i < headDim / 2; i++)
            {
                int at = 2 * (pos * headDim / 2 + i);
                if (BitConverter.SingleToInt32Bits(device[at]) != BitConverter.SingleToInt32Bits(unit[2 * i])
                    || BitConverter.SingleToInt32Bits(device[at + 1]) != BitConverter.SingleToInt32Bits(unit[2 * i + 1]))
                    Assert.Fail($"pos {pos} pair {i}: device ({device[at]:R}, {device[at + 1]:R}) vs CPU ({unit[2 * i]:R}, {unit[2 * i + 1]:R})");
            }
        }
    }

    [Test]
    public void QkvRope_PosOutsideCache_WritesNaNToQAndLeavesTheCache()
    {
        LlamaConfig cfg = Shapes["stories260K"];
        using IGpuDevice device = Open("sim");
        using var kernel = new QkvRopeKernel(device, WeightDType.F32);
        int qDim = cfg.Dim, kvDim = cfg.KvDim, maxSeq = 16;
        long cacheFloats = (long)cfg.NLayers * maxSeq * kvDim;
        using GpuBuffer w = Upload(device, new float[(qDim + 2 * kvDim) * cfg.Dim]), x = Upload(device, new float[cfg.Dim]);
        using GpuBuffer rope = QkvRopeKernel.UploadRopeTable(device, cfg.HeadDim, maxSeq, cfg.RopeTheta);
        using GpuBuffer pos = Upload(device, new[] { maxSeq });
        using GpuBuffer q = Upload(device, new float[qDim]);
        using GpuBuffer keys = Upload(device, new float[cacheFloats]), values = Upload(device, new float[cacheFloats]);
        using GpuStream stream = device.CreateStream();

        kernel.Launch(q, keys, values, w, x, rope, pos.Ptr, cfg, maxSeq, 0, stream);

        Assert.That(Download(device, q, qDim), Has.All.NaN);
        Assert.That(Download(device, keys, cacheFloats), Has.All.EqualTo(0f));
        Assert.That(Download(device, values, cacheFloats), Has.All.EqualTo(0f));
    }

    [Test]
    public void Launch_DimNotMultipleOfEightForF16_ThrowsSayingWhy()
    {
        LlamaConfig cfg = new() { Dim = 36, HiddenDim = 64, NLayers = 1, NHeads = 3, NKvHeads = 3, Vocab = 8, MaxSeq = 4 };
        using IGpuDevice device = Open("sim");
        using var kernel = new QkvRopeKernel(device, WeightDType.F16);
        using GpuBuffer any = device.Allocate(1 << 16);
        using GpuStream stream = device.CreateStream();

        var e = Assert.Throws<ArgumentException>(() => kernel.Launch(any, any, any, any, any, any, any.Ptr, cfg, 4, 0, stream));

        Assert.That(e!.Message, Does.StartWith("qkv_rope_f16 reads 128-bit weight packets: dim = 36 must be a positive multiple of 8"));
    }
}
