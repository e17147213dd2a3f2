using SpecEE.Core.Model;

namespace SpecEE.Cpu;

public sealed partial class CpuDecoderLayer
{
    /// <summary>
    /// One decoder layer split over the worker pool in a single dispatch: every participant runs the same
    /// five phases on its own slice and meets the others at a spin barrier between phases.
    /// <code>
    /// 1 Q/K/V rows of its query heads / kv heads, RoPE on them     | barrier
    /// 2 attention of its query heads                               | barrier
    /// 3 Wo rows (its slice of x)                                   | barrier
    /// 4 ffnNorm(x) into its own buffer; W1, W3 rows + SwiGLU        | barrier
    /// 5 W2 rows (its slice of x)
    /// </code>
    /// Each output element is still summed in the single-threaded order, so results are bit-identical.
    /// </summary>
    private sealed unsafe class Team : IParallelJob
    {
        private readonly CpuDecoderLayer _l;
        private readonly CpuWorkerPool _pool;
        private readonly CpuMatMul _mm;
        private readonly SpinBarrier _barrier;
        private readonly float[][] _xb2;     // [parts][dim] per-participant ffn-normed input
        private readonly float[][] _scores;  // [parts][maxSeq]
        private readonly float[][] _sig;     // [parts][hiddenDim] SwiGLU scratch
        private readonly bool[] _sense;      // [parts] each participant's barrier sense, kept across layers

        // Arguments of the layer being run (valid only during _pool.Run).
        private LayerWeights _w = null!;
        private float* _x, _keys, _values;
        private int _pos, _nVisible;

        public Team(CpuDecoderLayer layer, CpuWorkerPool pool, CpuMatMul mm)
        {
            _l = layer; _pool = pool; _mm = mm;
            _barrier = new SpinBarrier(pool.Count);
            _xb2 = new float[pool.Count][];
            _scores = new float[pool.Count][];
            _sig = new float[pool.Count][];
            _sense = new bool[pool.Count];
            for (int i = 0; i < pool.Count; i++)
            {
                _xb2[i] = new float[layer._cfg.Dim];
                _scores[i] = new float[layer._rope.MaxSeq];
                _sig[i] = new float[layer._cfg.HiddenDim];
            }
        }

        /// <summary>The pool the layer is split over.</summary>
        public CpuWorkerPool Pool => _pool;

        /// <summary>Splitting pays only when a layer's multiply-adds outweigh one dispatch plus four barriers.</summary>
        public bool Worth(LlamaConfig c) =>
            (long)c.Dim * (2L * c.NHeads * c.HeadDim + 2L * c.KvDim + 3L * c.HiddenDim) >= _mm.MinParallelMacs;

        public void Run(LayerWeights w, float* x, int pos, float* keys, float* values, int nVisible)
        {
            _w = w; _x = x; _pos = pos; _keys = keys; _values = values; _nVisible = nVisible;
            _pool.Run(this);
            _w = null!;
        }

        // A barrier between phases; the calling thread (part 0) reports its wait to the pool's stall check.
        private void Meet(int part, ref bool sense)
        {
            if (part != 0)
            {
                _barrier.Wait(ref sense);
                return;
            }
            long t0 = System.Diagnostics.Stopwatch.GetTimestamp();
            _barrier.Wait(ref sense);
            _pool.AddCallerWait(System.Diagnostics.Stopwatch.GetTimestamp() - t0);
        }

        public void Execute(int part, int parts)
        {
            var l = _l;
            var c = l._cfg;
            int dim = c.Dim, hd = c.HeadDim, kvDim = c.KvDim, qDim = c.NHeads * hd, hid = c.HiddenDim;
            var (h0, h1) = Split(c.NHeads, part, parts);
            var (g0, g1) = Split(c.NKvHeads, part, parts);
            var xSpan = new Span<float>(_x, dim);
            float* kRow = _keys + (long)_pos * kvDim, vRow = _values + (long)_pos * kvDim;
            ref bool sense = ref _sense[part];

            fixed (float* wq = _w.Wq, wk = _w.Wk, wv = _w.Wv, wo = _w.Wo, w1 = _w.W1, w2 = _w.W2, w3 = _w.W3)
            fixed (float* xb = l._xb, q = l._q, att = l._att, gate = l._gate, up = l._up, xb2 = _xb2[part])
            {
                // 1: projections of this participant's heads, rotated in place.
                CpuKernels.Gemv(wq, xb, q, dim, h0 * hd, h1 * hd, false);
                CpuKernels.Gemv(wk, xb, kRow, dim, g0 * hd, g1 * hd, false);
                CpuKernels.Gemv(wv, xb, vRow, dim, g0 * hd, g1 * hd, false);
                if (h1 > h0) l._rope.Apply(new Span<float>(q + h0 * hd, (h1 - h0) * hd), _pos);
                if (g1 > g0) l._rope.Apply(new Span<float>(kRow + g0 * hd, (g1 - g0) * hd), _pos);
                Meet(part, ref sense);

                // 2: attention of its query heads (K/V of any kv head are complete now).
                if (h1 > h0)
                    Attention.Attend(c, new ReadOnlySpan<float>(q, qDim),
                        new ReadOnlySpan<float>(_keys, (_pos + 1) * kvDim), new ReadOnlySpan<float>(_values, (_pos + 1) * kvDim),
                        l._visible.AsSpan(0, _nVisible), _scores[part], new Span<float>(att, qDim), h0, h1);
                Meet(part, ref sense);

                // 3: x += Wo·att on this participant's rows of x.
                var (r0, r1) = CpuWorkerPool.RowRange(dim, part, parts);
                CpuKernels.Gemv(wo, att, _x, qDim, r0, r1, true);
                Meet(part, ref sense);

                // 4: every participant norms the whole (now final) x itself: cheaper than one more barrier.
                CpuKernels.RmsNorm(xSpan, _w.FfnNorm, c.NormEps, new Span<float>(xb2, dim));
                var (f0, f1) = CpuWorkerPool.RowRange(hid, part, parts);
                if (f1 > f0)
                {
                    CpuKernels.Gemv(w1, xb2, gate, dim, f0, f1, false);
                    CpuKernels.Gemv(w3, xb2, up, dim, f0, f1, false);
                    CpuKernels.SwiGlu(new Span<float>(gate + f0, f1 - f0), new ReadOnlySpan<float>(up + f0, f1 - f0), _sig[part]);
                }
                Meet(part, ref sense);

                // 5: x += W2·act on its rows of x.
                CpuKernels.Gemv(w2, gate, _x, hid, r0, r1, true);
            }
        }

        /// <summary>[i0, i1) of <paramref name="count"/> items for part <paramref name="part"/> of <paramref name="parts"/>.</summary>
        private static (int, int) Split(int count, int part, int parts) =>
            ((int)((long)count * part / parts), (int)((long)count * (part + 1) / parts));
    }

    private unsafe void RunTeam(LayerWeights w, Span<float> x, int pos, Span<float> keys, Span<float> values,
                                ReadOnlySpan<int> depth, int layer, bool applyInputNorm)
    {
        // The input norm and the visible list are tiny and shared: computed once before the dispatch.
        if (applyInputNorm) CpuKernels.RmsNorm(x, w.AttnNorm, _cfg.NormEps, _xb);
        else x.CopyTo(_xb);
        int n = VisiblePositions(depth, layer, pos, _visible);
        fixed (float* px = x) fixed (float* pk = keys) fixed (float* pv = values)
            _team!.Run(w, px, pos, pk, pv, n);
    }
}

/// <summary>
/// Sense-reversing barrier for a fixed number of participants. Waiters spin, then yield the core
/// (never sleep 1 ms), so an oversubscribed machine degrades gracefully instead of stalling a quantum.
/// </summary>
internal sealed class SpinBarrier
{
    private readonly int _participants;
    private int _remaining;
    private volatile bool _sense;

    public SpinBarrier(int participants) { _participants = participants; _remaining = participants; }

    /// <summary>Blocks until all participants have called Wait; <paramref name="localSense"/> is the caller's own flag, starting false and kept across uses.</summary>
    public void Wait(ref bool localSense)
    {
        localSense = !localSense;
        if (Interlocked.Decrement(ref _remaining) == 0)
        {
            _remaining = _participants;
            _sense = localSense;
            return;
        }
        var spin = new SpinWait();
        while (_sense != localSense) spin.SpinOnce(sleep1Threshold: -1);
    }
}
