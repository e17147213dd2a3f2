using System.Numerics.Tensors;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using SpecEE.Core.Model;

namespace SpecEE.Cpu;

/// <summary>
/// The math of one Llama decoder layer for one token, shared by the base model (<see cref="CpuLlama"/>)
/// and the EAGLE draft head (whose single layer has no input RMSNorm):
/// <code>
/// x += Wo · attention(RoPE(Wq·n), RoPE(Wk·n), Wv·n),  n = attnNorm(x)   (n = x when the input norm is skipped)
/// x += W2 · (silu(W1·m) ⊙ W3·m),                      m = ffnNorm(x)
/// </code>
/// Holds only scratch buffers, so one instance serves any number of layers of the same shape.
/// Not thread-safe: one instance per engine.
/// </summary>
public sealed partial class CpuDecoderLayer
{
    private readonly LlamaConfig _cfg;
    private readonly RopeTable _rope;
    private readonly float[] _xb;      // [dim] normed input of the current sub-block
    private readonly float[] _q;       // [nHeads·headDim]
    private readonly float[] _att;     // [nHeads·headDim] attention output before Wo
    private readonly float[] _gate;    // [hiddenDim]
    private readonly float[] _up;      // [hiddenDim]
    private readonly float[] _scratch; // [max(hiddenDim, maxSeq)]
    private readonly float[] _scores;  // [maxSeq]
    private readonly int[] _visible;   // [maxSeq] positions the current query attends to
    private readonly CpuMatMul _mm;
    private readonly Team? _team;

    /// <summary>Scratch for layers shaped like <paramref name="config"/>, for positions &lt; <paramref name="rope"/>.MaxSeq; single-threaded.</summary>
    public CpuDecoderLayer(LlamaConfig config, RopeTable rope) : this(config, rope, new CpuMatMul(null), null) { }

    // pool: when given (and worth it, see CpuMatMul.MinParallelMacs), a whole layer is split over its threads.
    internal CpuDecoderLayer(LlamaConfig config, RopeTable rope, CpuMatMul mm, CpuWorkerPool? pool)
    {
        _cfg = config; _rope = rope; _mm = mm;
        if (pool is { Count: > 1 }) _team = new Team(this, pool, mm);
        int qDim = config.NHeads * config.HeadDim, maxSeq = rope.MaxSeq;
        _xb = new float[config.Dim];
        _q = new float[qDim];
        _att = new float[qDim];
        _gate = new float[config.HiddenDim];
        _up = new float[config.HiddenDim];
        _scratch = new float[Math.Max(config.HiddenDim, maxSeq)];
        _scores = new float[maxSeq];
        _visible = new int[maxSeq];
    }

    /// <summary>
    /// Runs layer <paramref name="w"/> on the residual stream <paramref name="x"/> ([dim], updated in place) at
    /// absolute position <paramref name="pos"/>: writes this token's K/V at row pos of <paramref name="keys"/> /
    /// <paramref name="values"/> (each [maxSeq, kvDim]) and attends to rows q ≤ pos with
    /// <c>q == pos || depth[q] &gt; layer</c>; an empty <paramref name="depth"/> means every q ≤ pos is visible.
    /// </summary>
    public void Run(LayerWeights w, Span<float> x, int pos, Span<float> keys, Span<float> values,
                    ReadOnlySpan<int> depth, int layer, bool applyInputNorm = true)
    {
        if (_team is not null && _team.Worth(_cfg) && _team.Pool.ShouldSplit())
        {
            RunTeam(w, x, pos, keys, values, depth, layer, applyInputNorm);
            return;
        }
        int dim = _cfg.Dim, kvDim = _cfg.KvDim, qDim = _q.Length;
        var kRow = keys.Slice(pos * kvDim, kvDim);
        var vRow = values.Slice(pos * kvDim, kvDim);

        // Attention block.
        if (applyInputNorm) CpuKernels.RmsNorm(x, w.AttnNorm, _cfg.NormEps, _xb);
        else x.CopyTo(_xb);
        _mm.Gemv(w.Wq, _xb, _q, dim, qDim, accumulate: false);
        _mm.Gemv(w.Wk, _xb, kRow, dim, kvDim, accumulate: false);
        _mm.Gemv(w.Wv, _xb, vRow, dim, kvDim, accumulate: false);
        _rope.Apply(_q, pos);
        _rope.Apply(kRow, pos);

        int n = VisiblePositions(depth, layer, pos, _visible);
        Attention.Attend(_cfg, _q, keys, values, _visible.AsSpan(0, n), _scores, _att);
        _mm.Gemv(w.Wo, _att, x, qDim, dim, accumulate: true);

        // Feed-forward block.
        CpuKernels.RmsNorm(x, w.FfnNorm, _cfg.NormEps, _xb);
        _mm.Gemv(w.W1, _xb, _gate, dim, _gate.Length, accumulate: false);
        _mm.Gemv(w.W3, _xb, _up, dim, _up.Length, accumulate: false);
        CpuKernels.SwiGlu(_gate, _up, _scratch);
        _mm.Gemv(w.W2, _gate, x, _gate.Length, dim, accumulate: true);
    }

    /// <summary>Fills <paramref name="visible"/> with the positions q ≤ pos that layer <paramref name="layer"/> may attend to; returns their count.</summary>
    internal static int VisiblePositions(ReadOnlySpan<int> depth, int layer, int pos, Span<int> visible)
    {
        int n = 0;
        if (depth.IsEmpty)
        {
            for (int q = 0; q <= pos; q++) visible[n++] = q;
            return n;
        }
        for (int q = 0; q < pos; q++)
            if (depth[q] > layer) visible[n++] = q;
        visible[n++] = pos;
        return n;
    }
}

/// <summary>Scaled-dot-product attention of one query token over a list of cached positions, with GQA.</summary>
internal static unsafe class Attention
{
    /// <summary>
    /// out[h] = Σ_i softmax_i(q_h·K[visible_i, g]/√headDim) · V[visible_i, g] for every query head h, with
    /// kv head g = h / gqaGroup. q and out are [nHeads·headDim]; keys/values are [maxSeq, kvDim].
    /// <paramref name="scores"/> is scratch of at least visible.Length floats. Only heads [h0, h1) are computed (h1 = −1: all).
    /// </summary>
    public static void Attend(LlamaConfig cfg, ReadOnlySpan<float> q, ReadOnlySpan<float> keys, ReadOnlySpan<float> values,
                              ReadOnlySpan<int> visible, Span<float> scores, Span<float> output, int h0 = 0, int h1 = -1)
    {
        if (h1 < 0) h1 = cfg.NHeads;
        int hd = cfg.HeadDim, kvDim = cfg.KvDim, group = cfg.GqaGroup, n = visible.Length;
        float scale = 1f / MathF.Sqrt(hd);
        var s = scores[..n];
        fixed (float* pq = q) fixed (float* pk = keys) fixed (float* pv = values) fixed (float* po = output) fixed (int* idx = visible)
        fixed (float* ps = s)
        {
            for (int h = h0; h < h1; h++)
            {
                int kvOff = h / group * hd;
                Scores(pq + h * hd, pk + kvOff, kvDim, idx, n, hd, scale, ps);
                CpuKernels.SoftMaxInPlace(s);
                WeightedSum(ps, pv + kvOff, kvDim, idx, n, hd, po + h * hd);
            }
        }
    }

    /// <summary>s[i] = scale · q·K[idx[i]] (K rows of length hd at stride kvDim), four rows per pass.</summary>
    private static void Scores(float* q, float* k, int kvDim, int* idx, int n, int hd, float scale, float* s)
    {
        int i = 0;
        if (CpuKernels.Simd && hd % 8 == 0)
        {
            var vs = Vector128.Create(scale);
            for (; i + 4 <= n; i += 4)
            {
                float* k0 = k + (long)idx[i] * kvDim, k1 = k + (long)idx[i + 1] * kvDim;
                float* k2 = k + (long)idx[i + 2] * kvDim, k3 = k + (long)idx[i + 3] * kvDim;
                Vector256<float> a0 = Vector256<float>.Zero, a1 = a0, a2 = a0, a3 = a0;
                for (int c = 0; c < hd; c += 8)
                {
                    var qv = Avx.LoadVector256(q + c);
                    a0 = Fma.MultiplyAdd(Avx.LoadVector256(k0 + c), qv, a0);
                    a1 = Fma.MultiplyAdd(Avx.LoadVector256(k1 + c), qv, a1);
                    a2 = Fma.MultiplyAdd(Avx.LoadVector256(k2 + c), qv, a2);
                    a3 = Fma.MultiplyAdd(Avx.LoadVector256(k3 + c), qv, a3);
                }
                Sse.Store(s + i, Sse.Multiply(CpuKernels.Sum4(a0, a1, a2, a3), vs));
            }
        }
        for (; i < n; i++) s[i] = CpuKernels.Dot(q, k + (long)idx[i] * kvDim, hd) * scale;
    }

    /// <summary>out[0..hd) = Σ_i p[i]·V[idx[i]], accumulated in registers 32 floats at a time.</summary>
    private static void WeightedSum(float* p, float* v, int kvDim, int* idx, int n, int hd, float* output)
    {
        if (!CpuKernels.Simd || hd % 32 != 0)
        {
            new Span<float>(output, hd).Clear();
            for (int i = 0; i < n; i++) CpuKernels.Axpy(output, p[i], v + (long)idx[i] * kvDim, hd);
            return;
        }
        for (int c = 0; c < hd; c += 32)
        {
            Vector256<float> a0 = Vector256<float>.Zero, a1 = a0, a2 = a0, a3 = a0;
            for (int i = 0; i < n; i++)
            {
                float* row = v + (long)idx[i] * kvDim + c;
                var pi = Vector256.Create(p[i]);
                a0 = Fma.MultiplyAdd(pi, Avx.LoadVector256(row), a0);
                a1 = Fma.MultiplyAdd(pi, Avx.LoadVector256(row + 8), a1);
                a2 = Fma.MultiplyAdd(pi, Avx.LoadVector256(row + 16), a2);
                a3 = Fma.MultiplyAdd(pi, Avx.LoadVector256(row + 24), a3);
            }
            Avx.Store(output + c, a0);
            Avx.Store(output + c + 8, a1);
            Avx.Store(output + c + 16, a2);
            Avx.Store(output + c + 24, a3);
        }
    }
}
