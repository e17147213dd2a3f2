using System.Numerics.Tensors;
using SpecEE.Core;
using SpecEE.Core.Model;
using SpecEE.Core.EarlyExit;

namespace SpecEE.Cpu;

/// <summary>
/// EAGLE-1 draft head on the CPU (fp32), the source of SpecEE's 4 candidate tokens.
/// <para>
/// One step consumes a pair (token x_{t+1}, feature f_t) at position t — f_t being the base model's final-normed
/// hidden state (or, after an early exit, the normed state of the exit layer) at position t:
/// x = fc(concat(embed(x_{t+1}), f_t)); x += attn(x) (no input norm; RoPE at position t; own KV cache);
/// x += mlp(RMSNorm_post(x)); logits = base LM head · x (no final norm); candidates = top-4 logits.
/// Prefill feeds the prompt's pairs (f_i, token_{i+1}) at positions i, then (f_last, first generated token).
/// </para>
/// Not thread-safe; one instance per sequence.
/// </summary>
public sealed class EagleHead
{
    private readonly EagleWeights _w;
    private readonly float[] _lmHead;           // [vocab, dim] the base model's classifier
    private readonly LlamaConfig _c;
    private readonly float[] _cos, _sin;        // [maxSeq, headDim/2]
    private readonly float[] _k, _v;            // [maxSeq, kvDim] own KV cache
    private readonly float[] _in;               // [2·dim] concat(embedding, feature)
    private readonly float[] _x, _tmp;          // [dim] residual stream, scratch
    private readonly float[] _q, _att;          // [nHeads·headDim]
    private readonly float[] _gate, _up, _sig;  // [hiddenDim]
    private readonly float[] _scores;           // [maxSeq]
    private readonly float[] _logits;           // [vocab]

    /// <summary>Context length of the head's KV cache.</summary>
    public int MaxSeq { get; }

    /// <summary>Positions 0..Length−1 hold keys and values.</summary>
    public int Length { get; private set; }

    /// <summary>The head's output [dim] after the last <see cref="Step"/> (before the LM head).</summary>
    public ReadOnlySpan<float> Output => _x;

    /// <param name="weights">the head</param>
    /// <param name="baseModel">the model it drafts for; its classifier is the head's LM head</param>
    /// <param name="maxSeq">KV cache length; 0 = the base model's MaxSeq</param>
    public EagleHead(EagleWeights weights, LlamaModel baseModel, int maxSeq = 0)
    {
        ArgumentNullException.ThrowIfNull(weights);
        ArgumentNullException.ThrowIfNull(baseModel);
        weights.CheckCompatible(baseModel.Config, baseModel.SourcePath);
        if (maxSeq < 0) throw new InvalidRequestException($"maxSeq must be ≥ 0 (0 = the model's), got {maxSeq}");
        _w = weights;
        _c = weights.Config;
        _lmHead = baseModel.Weights.Classifier;
        MaxSeq = maxSeq == 0 ? baseModel.Config.MaxSeq : maxSeq;
        int dim = _c.Dim, hd = _c.HeadDim, half = hd / 2;
        _cos = new float[MaxSeq * half];
        _sin = new float[MaxSeq * half];
        for (int p = 0; p < MaxSeq; p++)
            for (int i = 0; i < half; i++)
            {
                double angle = p * Math.Pow(_c.RopeTheta, -2.0 * i / hd); // fp64 angle, fp32 table (as the base model)
                _cos[p * half + i] = (float)Math.Cos(angle);
                _sin[p * half + i] = (float)Math.Sin(angle);
            }
        _k = new float[MaxSeq * _c.KvDim];
        _v = new float[MaxSeq * _c.KvDim];
        _in = new float[2 * dim];
        _x = new float[dim]; _tmp = new float[dim];
        _q = new float[_c.NHeads * hd]; _att = new float[_c.NHeads * hd];
        _gate = new float[_c.HiddenDim]; _up = new float[_c.HiddenDim]; _sig = new float[_c.HiddenDim];
        _scores = new float[MaxSeq];
        _logits = new float[_c.Vocab];
    }

    /// <summary>Forgets every position (new sequence).</summary>
    public void Reset() => Length = 0;

    /// <summary>
    /// Runs the head on (token, feature) at <paramref name="pos"/>, writing its K/V there. pos may be at most
    /// <see cref="Length"/>; a smaller pos rewinds (positions after it are dropped).
    /// </summary>
    public void Step(int token, ReadOnlySpan<float> feature, int pos)
    {
        int dim = _c.Dim, kvDim = _c.KvDim;
        if ((uint)token >= (uint)_c.Vocab) throw new InvalidRequestException($"token id {token} is outside the vocabulary [0, {_c.Vocab})");
        if (feature.Length != dim) throw new ArgumentException($"feature has {feature.Length} values, expected {dim}", nameof(feature));
        if (pos < 0 || pos > Length || pos >= MaxSeq)
            throw new InvalidRequestException($"EAGLE position {pos} must be in [0, {Math.Min(Length, MaxSeq - 1)}] (cache holds {Length} of {MaxSeq})");

        // x = fc · concat(embed(token), feature) + bias — embedding first
        _w.Embedding.AsSpan(token * dim, dim).CopyTo(_in);
        feature.CopyTo(_in.AsSpan(dim));
        MatVec(_w.FcWeight, _in, _x);
        if (_w.FcBias != null) TensorPrimitives.Add(_x, _w.FcBias, _x);

        // attention on x itself (EAGLE-1 has no input_layernorm in its only layer)
        var kRow = _k.AsSpan(pos * kvDim, kvDim);
        var vRow = _v.AsSpan(pos * kvDim, kvDim);
        MatVec(_w.Wq, _x, _q);
        MatVec(_w.Wk, _x, kRow);
        MatVec(_w.Wv, _x, vRow);
        Rope(_q, pos);
        Rope(kRow, pos);
        Attention(pos);
        MatVec(_w.Wo, _att, _tmp);
        TensorPrimitives.Add(_x, _tmp, _x);

        // x += down(silu(gate(n)) ⊙ up(n)), n = RMSNorm_post(x)
        float scale = 1f / MathF.Sqrt(TensorPrimitives.SumOfSquares(_x) / dim + _c.NormEps);
        TensorPrimitives.Multiply(_x, _w.PostAttnNorm, _tmp);
        TensorPrimitives.Multiply(_tmp, scale, _tmp);
        MatVec(_w.W1, _tmp, _gate);
        MatVec(_w.W3, _tmp, _up);
        TensorPrimitives.Sigmoid(_gate, _sig);
        TensorPrimitives.Multiply(_gate, _sig, _gate);
        TensorPrimitives.Multiply(_gate, _up, _gate);
        MatVec(_w.W2, _gate, _tmp);
        TensorPrimitives.Add(_x, _tmp, _x);
        Length = pos + 1;
    }

    /// <summary>logits [vocab] = base LM head · <see cref="Output"/> (EAGLE-1 has no final norm).</summary>
    public ReadOnlySpan<float> Logits()
    {
        MatVec(_lmHead, _x, _logits);
        return _logits;
    }

    /// <summary>
    /// The <paramref name="top"/>.Length highest-logit token ids after the last <see cref="Step"/>, best first
    /// (ties: lower id first). SpecEE uses 4, ranked by raw logits as EAGLE's <c>topK_genrate</c> does.
    /// </summary>
    public void TopCandidates(Span<int> top)
    {
        var logits = Logits();
        TopK(logits, top);
    }

    /// <summary>Step then <see cref="TopCandidates"/>: the candidates for the token after <paramref name="token"/>.</summary>
    public void Propose(int token, ReadOnlySpan<float> feature, int pos, Span<int> top)
    {
        Step(token, feature, pos);
        TopCandidates(top);
    }

    /// <summary>Indices of the k = dst.Length largest values, descending; ties keep the lower index first.</summary>
    public static void TopK(ReadOnlySpan<float> values, Span<int> dst)
    {
        int k = dst.Length;
        if (k == 0 || k > values.Length) throw new ArgumentException($"cannot take the top {k} of {values.Length} values");
        Span<float> best = stackalloc float[k];
        best.Fill(float.NegativeInfinity);
        dst.Fill(-1);
        for (int i = 0; i < values.Length; i++)
        {
            float v = values[i];
            if (!(v > best[k - 1]) && dst[k - 1] >= 0) continue; // strictly greater displaces: earlier index wins ties
            int j = k - 1;
            while (j > 0 && (v > best[j - 1] || dst[j - 1] < 0)) { best[j] = best[j - 1]; dst[j] = dst[j - 1]; j--; }
            best[j] = v; dst[j] = i;
        }
    }

    // Causal attention of the query at pos over the head's own positions 0..pos; GQA: query head h reads
    // KV head h / (nHeads / nKvHeads). Softmax in fp32 with the max subtracted.
    private void Attention(int pos)
    {
        int hd = _c.HeadDim, kvDim = _c.KvDim, group = _c.GqaGroup;
        float invSqrt = 1f / MathF.Sqrt(hd);
        var scores = _scores.AsSpan(0, pos + 1);
        for (int h = 0; h < _c.NHeads; h++)
        {
            var q = _q.AsSpan(h * hd, hd);
            int kvOff = h / group * hd;
            for (int t = 0; t <= pos; t++)
                scores[t] = TensorPrimitives.Dot(q, _k.AsSpan(t * kvDim + kvOff, hd)) * invSqrt;
            CpuKernels.SoftMaxInPlace(scores);
            var o = _att.AsSpan(h * hd, hd);
            o.Clear();
            for (int t = 0; t <= pos; t++)
                TensorPrimitives.MultiplyAdd(_v.AsSpan(t * kvDim + kvOff, hd), scores[t], o, o);
        }
    }

    // Interleaved-pair RoPE (the engine's one convention; Q/K rows were permuted at load).
    private void Rope(Span<float> x, int pos)
    {
        int hd = _c.HeadDim, half = hd / 2;
        var cos = _cos.AsSpan(pos * half, half);
        var sin = _sin.AsSpan(pos * half, half);
        for (int h = 0; h < x.Length; h += hd)
            for (int i = 0; i < half; i++)
            {
                float x0 = x[h + 2 * i], x1 = x[h + 2 * i + 1];
                x[h + 2 * i] = x0 * cos[i] - x1 * sin[i];
                x[h + 2 * i + 1] = x0 * sin[i] + x1 * cos[i];
            }
    }

    // y = W · x for row-major W [y.Length, x.Length].
    private static void MatVec(float[] w, ReadOnlySpan<float> x, Span<float> y)
    {
        int cols = x.Length;
        for (int r = 0; r < y.Length; r++) y[r] = TensorPrimitives.Dot(w.AsSpan(r * cols, cols), x);
    }
}
