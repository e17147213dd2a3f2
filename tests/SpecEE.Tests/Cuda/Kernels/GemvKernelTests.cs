using SpecEE.Core.Model;
using SpecEE.Cpu;
using SpecEE.Cuda.Device;
using SpecEE.Cuda.Kernels;
using static SpecEE.Tests.Cuda.Kernels.KernelTestSupport;

namespace SpecEE.Tests.Cuda.Kernels;

/// <summary>
/// Gemv.cu against the CPU backend's own kernels (CpuKernels.Gemv / Gemm / SwiGlu on the fp16-rounded
/// weights): fixture shapes of tinystories-16L (dim 128, hidden 384, vocab 512) and stories260K (64, 172,
/// 512), plus odd sizes on both the 16-byte and the scalar path. Outputs start as NaN with NaN guards behind.
/// </summary>
[TestFixture("sim")]
[TestFixture("gpu")]
public class GemvKernelTests(string kind)
{
    private const double Atol = 2e-5, Rtol = 1e-4;
    private IGpuDevice _device = null!;
    private GpuStream _stream = null!;
    private GemvKernel _f16 = null!, _f32 = null!;

    [OneTimeSetUp]
    public void OpenDevice()
    {
        _device = KernelTestSupport.Open(kind);
        _stream = _device.CreateStream();
        _f16 = new GemvKernel(_device, WeightDType.F16);
        _f32 = new GemvKernel(_device, WeightDType.F32);
    }

    [OneTimeTearDown]
    public void Close()
    {
        _f16?.Dispose();
        _f32?.Dispose();
        _stream?.Dispose();
        _device?.Dispose();
    }

    private GemvKernel Kernel(WeightDType dt) => dt == WeightDType.F16 ? _f16 : _f32;

    [TestCase(128, 128)]   // tinystories-16L O projection
    [TestCase(128, 384)]   // tinystories-16L down projection
    [TestCase(64, 64)]     // stories260K O projection
    [TestCase(64, 172)]    // stories260K down projection (f16: scalar path)
    [TestCase(19, 1032)]   // odd rows, 129 chunks: two-chunk loop + tail
    [TestCase(33, 77)]     // odd everything: scalar path
    public void GemvResidual_F16_MatchesCpuReference(int rows, int cols) => CheckResidual(WeightDType.F16, rows, cols);

    [TestCase(128, 128)]
    [TestCase(128, 384)]
    [TestCase(64, 64)]
    [TestCase(64, 172)]
    [TestCase(19, 1032)]
    [TestCase(33, 77)]
    public void GemvResidual_F32_MatchesCpuReference(int rows, int cols) => CheckResidual(WeightDType.F32, rows, cols);

    [TestCase(384, 128)]   // tinystories-16L gate/up
    [TestCase(172, 64)]    // stories260K gate/up
    [TestCase(45, 1032)]
    [TestCase(13, 77)]
    public void GateUpSwiGlu_F16_MatchesCpuReference(int hidden, int dim) => CheckGateUp(WeightDType.F16, hidden, dim);

    [TestCase(384, 128)]
    [TestCase(172, 64)]
    [TestCase(45, 1032)]
    [TestCase(13, 77)]
    public void GateUpSwiGlu_F32_MatchesCpuReference(int hidden, int dim) => CheckGateUp(WeightDType.F32, hidden, dim);

    [TestCase(512, 128)]   // tinystories-16L classifier
    [TestCase(512, 64)]    // stories260K classifier
    [TestCase(1001, 40)]
    public void LmHead_F16_MatchesCpuReference(int vocab, int dim) => CheckLmHead(WeightDType.F16, vocab, dim);

    [TestCase(512, 128)]
    [TestCase(512, 64)]
    [TestCase(1001, 40)]
    public void LmHead_F32_MatchesCpuReference(int vocab, int dim) => CheckLmHead(WeightDType.F32, vocab, dim);

    private (float[] W, float[] WRef, GpuBuffer DW) Weights(WeightDType dt, int seed, int rows, int cols)
    {
        float[] w = Uniform(seed, rows * cols, 1f / MathF.Sqrt(cols));
        float[] wRef = dt == WeightDType.F16 ? RoundToHalf(w) : w;
        return (w, wRef, Upload(_device, w, asHalf: dt == WeightDType.F16));
    }

    private void CheckResidual(WeightDType dt, int rows, int cols)
    {
        var (_, wRef, dW) = Weights(dt, 11, rows, cols);
        float[] x = Uniform(12, cols, 1f), y0 = Uniform(13, rows, 1f);
        float[] expected = (float[])y0.Clone();
        CpuKernels.Gemv(wRef, x, expected, cols, 0, rows, accumulate: true);

        using (dW)
        using (GpuBuffer dX = Upload(_device, x), dY = NaNs(_device, rows))
        {
            _device.CopyToDevice(dY.Ptr, y0.AsSpan());
            Kernel(dt).GemvResidual(dY, dW, dX, rows, cols, _stream); // the buffer form: extents checked
            _device.Synchronize(_stream);
            AssertClose(Download(_device, dY, rows), expected, Atol, Rtol, $"gemv_residual_{dt} [{rows}, {cols}]");
            AssertGuardUntouched(_device, dY, rows);
        }
    }

    private void CheckGateUp(WeightDType dt, int hidden, int dim)
    {
        var (_, w1Ref, dW1) = Weights(dt, 21, hidden, dim);
        var (_, w3Ref, dW3) = Weights(dt, 22, hidden, dim);
        float[] x = Uniform(23, dim, 2f);
        float[] gate = new float[hidden], up = new float[hidden], scratch = new float[hidden];
        CpuKernels.Gemv(w1Ref, x, gate, dim, 0, hidden, accumulate: false);
        CpuKernels.Gemv(w3Ref, x, up, dim, 0, hidden, accumulate: false);
        CpuKernels.SwiGlu(gate, up, scratch);

        using (dW1)
        using (dW3)
        using (GpuBuffer dX = Upload(_device, x), dH = NaNs(_device, hidden))
        {
            Kernel(dt).GateUpSwiGlu(dH.Ptr, dW1.Ptr, dW3.Ptr, dX.Ptr, hidden, dim, _stream);
            _device.Synchronize(_stream);
            AssertClose(Download(_device, dH, hidden), gate, Atol, Rtol, $"gate_up_swiglu_{dt} [{hidden}, {dim}]");
            AssertGuardUntouched(_device, dH, hidden);
        }
    }

    private void CheckLmHead(WeightDType dt, int vocab, int dim)
    {
        var (_, wRef, dW) = Weights(dt, 31, vocab, dim);
        float[] x = Uniform(32, dim, 1f);
        float[] expected = new float[vocab];
        CpuKernels.Gemv(wRef, x, expected, dim, 0, vocab, accumulate: false);

        using (dW)
        using (GpuBuffer dX = Upload(_device, x), dY = NaNs(_device, vocab))
        {
            Kernel(dt).LmHead(dY.Ptr, dW.Ptr, dX.Ptr, vocab, dim, _stream);
            _device.Synchronize(_stream);
            AssertClose(Download(_device, dY, vocab), expected, Atol, Rtol, $"lm_head_{dt} [{vocab}, {dim}]");
            AssertGuardUntouched(_device, dY, vocab);
        }
    }

    public enum Op { Residual, LmHead, GateUp }

    /// <summary>
    /// 11 tokens in one batched launch (a full tile of 8 and a partial one) equal 11 single-token launches
    /// bit for bit (same summation order per output), and the CPU's batched GEMM within tolerance.
    /// </summary>
    [Test]
    public void Batched_EqualsSingleTokenLaunches_BitForBit(
        [Values(WeightDType.F16, WeightDType.F32)] WeightDType dt,
        [Values(Op.Residual, Op.LmHead, Op.GateUp)] Op op,
        [Values(128, 172, 1032)] int cols) // 1032: the unrolled multi-chunk loops (decode 4, batched 2 chunks per trip)
    {
        const int nTok = 11;
        int rows = op == Op.GateUp ? 45 : 37;
        var (_, wRef, dW) = Weights(dt, 41, rows, cols);
        var (_, w3Ref, dW3) = Weights(dt, 42, rows, cols);
        float[] x = Uniform(43, nTok * cols, 1f), y0 = Uniform(44, nTok * rows, 1f);
        GemvKernel k = Kernel(dt);

        using (dW)
        using (dW3)
        using (GpuBuffer dX = Upload(_device, x), dBatched = NaNs(_device, nTok * rows), dSingle = NaNs(_device, nTok * rows))
        {
            if (op == Op.Residual)
            {
                _device.CopyToDevice(dBatched.Ptr, y0.AsSpan());
                _device.CopyToDevice(dSingle.Ptr, y0.AsSpan());
            }
            for (int t = 0; t < nTok; t++)
            {
                var xt = dX.At(4L * t * cols, 4L * cols);
                var yt = dSingle.At(4L * t * rows, 4L * rows);
                if (op == Op.Residual) k.GemvResidual(yt, dW.Ptr, xt, rows, cols, _stream);
                else if (op == Op.LmHead) k.LmHead(yt, dW.Ptr, xt, rows, cols, _stream);
                else k.GateUpSwiGlu(yt, dW.Ptr, dW3.Ptr, xt, rows, cols, _stream);
            }
            if (op == Op.Residual) k.GemvResidualBatched(dBatched.Ptr, dW.Ptr, dX.Ptr, rows, cols, nTok, _stream);
            else if (op == Op.LmHead) k.LmHeadBatched(dBatched.Ptr, dW.Ptr, dX.Ptr, rows, cols, nTok, _stream);
            else k.GateUpSwiGluBatched(dBatched.Ptr, dW.Ptr, dW3.Ptr, dX.Ptr, rows, cols, nTok, _stream);
            _device.Synchronize(_stream);

            float[] batched = Download(_device, dBatched, nTok * rows), single = Download(_device, dSingle, nTok * rows);
            for (int i = 0; i < batched.Length; i++)
                if (BitConverter.SingleToInt32Bits(batched[i]) != BitConverter.SingleToInt32Bits(single[i]))
                    Assert.Fail($"token {i / rows}, row {i % rows}: batched {batched[i]:R} ≠ single {single[i]:R}");
            AssertGuardUntouched(_device, dBatched, nTok * rows);

            float[] expected = op == Op.Residual ? (float[])y0.Clone() : new float[nTok * rows];
            unsafe
            {
                fixed (float* pw = wRef) fixed (float* px = x) fixed (float* py = expected)
                    CpuKernels.Gemm(pw, px, py, nTok, cols, rows, 0, rows, accumulate: op == Op.Residual);
            }
            if (op == Op.GateUp)
            {
                float[] up = new float[nTok * rows], scratch = new float[rows];
                unsafe
                {
                    fixed (float* pw = w3Ref) fixed (float* px = x) fixed (float* py = up)
                        CpuKernels.Gemm(pw, px, py, nTok, cols, rows, 0, rows, accumulate: false);
                }
                for (int t = 0; t < nTok; t++)
                    CpuKernels.SwiGlu(expected.AsSpan(t * rows, rows), up.AsSpan(t * rows, rows), scratch);
            }
            AssertClose(batched, expected, Atol, Rtol, $"{op} batched {dt} [{rows}, {cols}] × {nTok}");
        }
    }

    [Test]
    public void Launch_RejectsNonPositiveShapes()
    {
        using GpuBuffer b = _device.Allocate(64);
        Assert.Throws<SpecEE.Core.InvalidRequestException>(() => _f16.GemvResidual(b.Ptr, b.Ptr, b.Ptr, 0, 8, _stream));
        Assert.Throws<SpecEE.Core.InvalidRequestException>(() => _f32.GateUpSwiGluBatched(b.Ptr, b.Ptr, b.Ptr, b.Ptr, 4, 4, 0, _stream));
        var e = Assert.Throws<SpecEE.Core.InvalidRequestException>(() => _f16.GemvResidual(b, b, b, 8, 8, _stream));
        Assert.That(e!.Message, Does.StartWith("W holds 64 bytes, [8, 8] F16 weights need 128"));
    }
}
