using SpecEE.Core;
using SpecEE.Core.Model;
using SpecEE.Cuda.Device;
using SpecEE.Cuda.Interop;

namespace SpecEE.Cuda.Kernels;

/// <summary>
/// Launchers of Gemv.cu for one weight dtype: <c>gemv_residual_*</c> (y += W·x: O projection and down
/// projection with the residual add), <c>lm_head_*</c> (y = W·x: logits), <c>gate_up_swiglu_*</c>
/// (h = silu(W1·x) ⊙ (W3·x)) and their <c>_batched</c> prefill forms (nTok vectors per launch).
/// </summary>
/// <remarks>
/// Requirements for the model assembly: W row-major [rows, cols] in the kernel's dtype, x and y fp32 and
/// distinct (y += W·x with y aliasing x is a race). Any shape works; the fast path (16-byte weight loads)
/// needs cols % 8 == 0 for f16 / cols % 4 == 0 for f32 and W and x 16-byte aligned — so place weight
/// matrices at 16-byte offsets inside a shared buffer (every Llama-2 shape qualifies; stories260K's
/// hidden 172 takes the scalar path). Launch geometry: <see cref="BlockSize"/> threads; grid.x =
/// ceil(rows / <see cref="RowsPerBlock"/>) (gate/up: ceil(hidden / <see cref="GateUpRowsPerBlock"/>));
/// batched adds grid.y = ceil(nTok / <see cref="TokenTile"/>). No shared memory, no scalars that change per
/// step, so every launch is graph-capturable. Results are bit-identical between the batched and the
/// single-token kernels, and the PTX decode GEMV is written to match the CUDA C one bit for bit (checked by
/// GemvPtxDeviceTests where a GPU exists).
/// </remarks>
public sealed class GemvKernel : IDisposable
{
    /// <summary>Source file name; also the simulator's module name.</summary>
    public const string FileName = "Gemv.cu";
    /// <summary>The handwritten PTX twin of <c>gemv_residual_f16</c> (embedded resource name).</summary>
    public const string PtxFileName = "gemv_f16.ptx";
    /// <summary>Threads per block (4 warps).</summary>
    public const int BlockSize = 128;
    /// <summary>Output rows per block of gemv_residual / lm_head (2 per warp).</summary>
    public const int RowsPerBlock = 8;
    /// <summary>Output rows per block of gate_up_swiglu (1 per warp, reading a W1 and a W3 row).</summary>
    public const int GateUpRowsPerBlock = 4;
    /// <summary>Token vectors per block of the batched kernels (grid.y = ceil(nTok / TokenTile)).</summary>
    public const int TokenTile = 8;

    private readonly IGpuDevice _device;
    private readonly GpuModule _module;
    private readonly GpuModule? _ptxModule;
    private readonly GpuFunction _residual, _lmHead, _gateUp, _residualBatched, _lmHeadBatched, _gateUpBatched;
    private readonly GpuFunction? _ptxResidual;
    private readonly int _elementBytes, _vectorElems;

    /// <summary>
    /// Loads the kernels for <paramref name="dtype"/>. With <paramref name="usePtx"/> (f16 only) the decode
    /// <c>gemv_residual_f16</c> runs the handwritten PTX wherever its fast-path conditions hold; the PTX is
    /// JIT-compiled by the driver, so this needs a GPU (the simulator rejects PTX modules).
    /// </summary>
    public GemvKernel(IGpuDevice device, WeightDType dtype, bool usePtx = false)
    {
        if (usePtx && dtype != WeightDType.F16)
            throw new InvalidRequestException($"the PTX GEMV ({PtxFileName}) exists for f16 weights only, not {dtype}");
        _device = device;
        DType = dtype;
        string suffix = dtype == WeightDType.F16 ? "f16" : "f32";
        _elementBytes = dtype == WeightDType.F16 ? 2 : 4;
        _vectorElems = 16 / _elementBytes;
        _module = device.LoadCudaSource(KernelSources.Read(FileName), FileName);
        _residual = device.GetFunction(_module, "gemv_residual_" + suffix);
        _lmHead = device.GetFunction(_module, "lm_head_" + suffix);
        _gateUp = device.GetFunction(_module, "gate_up_swiglu_" + suffix);
        _residualBatched = device.GetFunction(_module, $"gemv_residual_{suffix}_batched");
        _lmHeadBatched = device.GetFunction(_module, $"lm_head_{suffix}_batched");
        _gateUpBatched = device.GetFunction(_module, $"gate_up_swiglu_{suffix}_batched");
        if (usePtx)
        {
            try
            {
                _ptxModule = device.LoadPtx(KernelSources.Read(PtxFileName), PtxFileName);
                _ptxResidual = device.GetFunction(_ptxModule, "gemv_residual_f16");
            }
            catch
            {
                _ptxModule?.Dispose();
                _module.Dispose();
                throw;
            }
        }
    }

    /// <summary>Weight dtype of every kernel this instance launches.</summary>
    public WeightDType DType { get; }

    /// <summary>True when the decode gemv_residual_f16 runs the handwritten PTX (where its fast path applies).</summary>
    public bool UsePtx => _ptxResidual != null;

    /// <summary>y[rows] += W[rows, cols]·x[cols] (O projection + residual, down + residual).</summary>
    public void GemvResidual(CUdeviceptr y, CUdeviceptr w, CUdeviceptr x, int rows, int cols, GpuStream stream)
    {
        CheckShape(rows, cols, 1, "gemv_residual");
        GpuFunction f = _ptxResidual != null && FastPath(w, x, cols) ? _ptxResidual : _residual;
        LaunchRows(f, y, w, x, rows, cols, null, stream);
    }

    /// <summary>y[rows] = W[rows, cols]·x[cols] (the classifier: rows = vocab, cols = dim).</summary>
    public void LmHead(CUdeviceptr y, CUdeviceptr w, CUdeviceptr x, int rows, int cols, GpuStream stream)
    {
        CheckShape(rows, cols, 1, "lm_head");
        LaunchRows(_lmHead, y, w, x, rows, cols, null, stream);
    }

    /// <summary>h[hidden] = silu(W1·x) ⊙ (W3·x); W1 (gate) and W3 (up) are [hidden, dim], x [dim].</summary>
    public void GateUpSwiGlu(CUdeviceptr h, CUdeviceptr w1, CUdeviceptr w3, CUdeviceptr x, int hidden, int dim, GpuStream stream)
    {
        CheckShape(hidden, dim, 1, "gate_up_swiglu");
        LaunchGateUp(_gateUp, h, w1, w3, x, hidden, dim, null, stream);
    }

    /// <summary>Y[t, r] += Σ_c W[r, c]·X[t, c] for t &lt; nTok: Y [nTok, rows], X [nTok, cols] (prefill).</summary>
    public void GemvResidualBatched(CUdeviceptr y, CUdeviceptr w, CUdeviceptr x, int rows, int cols, int nTok, GpuStream stream)
    {
        CheckShape(rows, cols, nTok, "gemv_residual_batched");
        LaunchRows(_residualBatched, y, w, x, rows, cols, nTok, stream);
    }

    /// <summary>Y[t, r] = Σ_c W[r, c]·X[t, c] for t &lt; nTok: Y [nTok, rows], X [nTok, cols].</summary>
    public void LmHeadBatched(CUdeviceptr y, CUdeviceptr w, CUdeviceptr x, int rows, int cols, int nTok, GpuStream stream)
    {
        CheckShape(rows, cols, nTok, "lm_head_batched");
        LaunchRows(_lmHeadBatched, y, w, x, rows, cols, nTok, stream);
    }

    /// <summary>H[t] = silu(W1·X[t]) ⊙ (W3·X[t]) for t &lt; nTok: H [nTok, hidden], X [nTok, dim].</summary>
    public void GateUpSwiGluBatched(CUdeviceptr h, CUdeviceptr w1, CUdeviceptr w3, CUdeviceptr x, int hidden, int dim, int nTok, GpuStream stream)
    {
        CheckShape(hidden, dim, nTok, "gate_up_swiglu_batched");
        LaunchGateUp(_gateUpBatched, h, w1, w3, x, hidden, dim, nTok, stream);
    }

    // ---- buffer forms: the same launches with every extent checked against its buffer ----------------

    /// <summary><see cref="GemvResidual(CUdeviceptr, CUdeviceptr, CUdeviceptr, int, int, GpuStream)"/> with sizes checked.</summary>
    public void GemvResidual(GpuBuffer y, GpuBuffer w, GpuBuffer x, int rows, int cols, GpuStream stream) =>
        GemvResidual(Floats(y, rows, "y"), Weights(w, rows, cols, "W"), Floats(x, cols, "x"), rows, cols, stream);

    /// <summary><see cref="LmHead(CUdeviceptr, CUdeviceptr, CUdeviceptr, int, int, GpuStream)"/> with sizes checked.</summary>
    public void LmHead(GpuBuffer y, GpuBuffer w, GpuBuffer x, int rows, int cols, GpuStream stream) =>
        LmHead(Floats(y, rows, "logits"), Weights(w, rows, cols, "W"), Floats(x, cols, "x"), rows, cols, stream);

    /// <summary><see cref="GateUpSwiGlu(CUdeviceptr, CUdeviceptr, CUdeviceptr, CUdeviceptr, int, int, GpuStream)"/> with sizes checked.</summary>
    public void GateUpSwiGlu(GpuBuffer h, GpuBuffer w1, GpuBuffer w3, GpuBuffer x, int hidden, int dim, GpuStream stream) =>
        GateUpSwiGlu(Floats(h, hidden, "h"), Weights(w1, hidden, dim, "W1"), Weights(w3, hidden, dim, "W3"), Floats(x, dim, "x"), hidden, dim, stream);

    /// <summary><see cref="GemvResidualBatched(CUdeviceptr, CUdeviceptr, CUdeviceptr, int, int, int, GpuStream)"/> with sizes checked.</summary>
    public void GemvResidualBatched(GpuBuffer y, GpuBuffer w, GpuBuffer x, int rows, int cols, int nTok, GpuStream stream) =>
        GemvResidualBatched(Floats(y, (long)nTok * rows, "Y"), Weights(w, rows, cols, "W"), Floats(x, (long)nTok * cols, "X"), rows, cols, nTok, stream);

    /// <summary><see cref="GateUpSwiGluBatched(CUdeviceptr, CUdeviceptr, CUdeviceptr, CUdeviceptr, int, int, int, GpuStream)"/> with sizes checked.</summary>
    public void GateUpSwiGluBatched(GpuBuffer h, GpuBuffer w1, GpuBuffer w3, GpuBuffer x, int hidden, int dim, int nTok, GpuStream stream) =>
        GateUpSwiGluBatched(Floats(h, (long)nTok * hidden, "H"), Weights(w1, hidden, dim, "W1"), Weights(w3, hidden, dim, "W3"),
            Floats(x, (long)nTok * dim, "X"), hidden, dim, nTok, stream);

    private static CUdeviceptr Floats(GpuBuffer b, long count, string name) =>
        b.Bytes >= count * 4 ? b.Ptr : throw new InvalidRequestException($"{name} holds {b.Bytes} bytes, the GEMV needs {count} floats ({count * 4} bytes)");

    private CUdeviceptr Weights(GpuBuffer b, int rows, int cols, string name) =>
        b.Bytes >= WeightBytes(rows, cols) ? b.Ptr
            : throw new InvalidRequestException($"{name} holds {b.Bytes} bytes, [{rows}, {cols}] {DType} weights need {WeightBytes(rows, cols)}");

    /// <summary>Bytes of weights one GemvResidual/LmHead launch reads (for GB/s reports).</summary>
    public long WeightBytes(int rows, int cols) => (long)rows * cols * _elementBytes;

    /// <summary>True when the 16-byte load path applies (cols a multiple of 8 f16 / 4 f32, W and x 16-byte aligned).</summary>
    public bool FastPath(CUdeviceptr w, CUdeviceptr x, int cols) =>
        cols % _vectorElems == 0 && ((w.Value | x.Value) & 15) == 0;

    private unsafe void LaunchRows(GpuFunction f, CUdeviceptr y, CUdeviceptr w, CUdeviceptr x, int rows, int cols, int? nTok, GpuStream stream)
    {
        int tokens = nTok ?? 1;
        nint* args = stackalloc nint[] { (nint)(&y), (nint)(&w), (nint)(&x), (nint)(&rows), (nint)(&cols), (nint)(&tokens) };
        var grid = new Dim3((uint)((rows + RowsPerBlock - 1) / RowsPerBlock), (uint)((tokens + TokenTile - 1) / TokenTile));
        _device.Launch(f, grid, BlockSize, 0, stream, new ReadOnlySpan<nint>(args, nTok is null ? 5 : 6));
    }

    private unsafe void LaunchGateUp(GpuFunction f, CUdeviceptr h, CUdeviceptr w1, CUdeviceptr w3, CUdeviceptr x, int hidden, int dim, int? nTok, GpuStream stream)
    {
        int tokens = nTok ?? 1;
        nint* args = stackalloc nint[] { (nint)(&h), (nint)(&w1), (nint)(&w3), (nint)(&x), (nint)(&hidden), (nint)(&dim), (nint)(&tokens) };
        var grid = new Dim3((uint)((hidden + GateUpRowsPerBlock - 1) / GateUpRowsPerBlock), (uint)((tokens + TokenTile - 1) / TokenTile));
        _device.Launch(f, grid, BlockSize, 0, stream, new ReadOnlySpan<nint>(args, nTok is null ? 6 : 7));
    }

    private static void CheckShape(int rows, int cols, int nTok, string kernel)
    {
        if (rows <= 0 || cols <= 0 || nTok <= 0)
            throw new InvalidRequestException($"{kernel}: rows {rows}, cols {cols} and nTok {nTok} must be positive");
        if ((long)rows * cols > int.MaxValue || (long)nTok * Math.Max(rows, cols) > int.MaxValue)
            throw new InvalidRequestException($"{kernel}: [{rows}, {cols}] × {nTok} tokens exceeds the kernel's 32-bit element indexing");
    }

    public void Dispose()
    {
        _ptxModule?.Dispose();
        _module.Dispose();
    }
}
