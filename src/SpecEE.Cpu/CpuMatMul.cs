namespace SpecEE.Cpu;

/// <summary>
/// Matrix products of the engine, split by rows over a <see cref="CpuWorkerPool"/> when the product is large
/// enough for the split to pay (waking workers and waiting for the slowest costs microseconds, more than a
/// whole 128×384 GEMV). The per-element summation order does not depend on the split, so results are
/// bit-identical for any thread count.
/// </summary>
internal sealed unsafe class CpuMatMul
{
    private readonly CpuWorkerPool? _pool;
    private readonly GemmJob _job = new();

    /// <summary>Products with fewer multiply-adds than this run on the calling thread.</summary>
    public long MinParallelMacs { get; set; } = CpuWorkerPool.MinParallelMacs;

    /// <summary>Participants available (1 = single-threaded).</summary>
    public int Threads => _pool?.Count ?? 1;

    public CpuMatMul(CpuWorkerPool? pool) => _pool = pool;

    /// <summary>y[r] (+)= Σ_c w[r, c]·x[c] for r &lt; rows; w is [rows, cols].</summary>
    public void Gemv(float[] w, ReadOnlySpan<float> x, Span<float> y, int cols, int rows, bool accumulate)
    {
        if (w.Length < (long)rows * cols || x.Length < cols || y.Length < rows)
            throw new ArgumentException($"GEMV [{rows}, {cols}] got w={w.Length}, x={x.Length}, y={y.Length} floats");
        fixed (float* px = x) fixed (float* py = y) Gemm(w, px, py, 1, cols, rows, rows, accumulate);
    }

    /// <summary>Y[t, r] (+)= Σ_c W[r, c]·X[t, c] for t &lt; n, r &lt; rows; X is [n, cols], Y is [n, yStride].</summary>
    public void Gemm(float[] w, float* x, float* y, int n, int cols, int rows, int yStride, bool accumulate)
    {
        fixed (float* pw = w)
        {
            if (_pool is null || (long)n * rows * cols < MinParallelMacs || !_pool.ShouldSplit())
            {
                if (n == 1) CpuKernels.Gemv(pw, x, y, cols, 0, rows, accumulate);
                else CpuKernels.Gemm(pw, x, y, n, cols, yStride, 0, rows, accumulate);
                return;
            }
            _job.Set(pw, x, y, n, cols, rows, yStride, accumulate);
            _pool.Run(_job);
        }
    }

    /// <summary>Rows split across parts in blocks of 4 (the GEMV kernel's unit).</summary>
    private sealed class GemmJob : IParallelJob
    {
        private float* _w, _x, _y;
        private int _n, _cols, _rows, _yStride;
        private bool _accumulate;

        public void Set(float* w, float* x, float* y, int n, int cols, int rows, int yStride, bool accumulate)
        {
            _w = w; _x = x; _y = y; _n = n; _cols = cols; _rows = rows; _yStride = yStride; _accumulate = accumulate;
        }

        public void Execute(int part, int parts)
        {
            var (r0, r1) = CpuWorkerPool.RowRange(_rows, part, parts);
            if (r0 >= r1) return;
            if (_n == 1) CpuKernels.Gemv(_w, _x, _y, _cols, r0, r1, _accumulate);
            else CpuKernels.Gemm(_w, _x, _y, _n, _cols, _yStride, r0, r1, _accumulate);
        }
    }
}
