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
    private readonly LayerWeights _layerWeights; // the head's decoder layer, as the base model's layer type
    private readonly CpuDecoderLayer _layer;     // the same layer math as the base model (input norm skipped)
    private readonly CpuMatMul _mm;
    private readonly float[] _k, _v;            // [maxSeq, kvDim] own KV cache
    private readonly float[] _in;               // [2·dim] concat(embedding, feature)
    private readonly float[] _x;                // [dim] residual stream
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
    /// <param name="threadsOf">a base-model runner whose worker threads the head may use (it runs between the base
    /// model's steps, never at the same time); null = one thread. Results are the same either way.</param>
    public EagleHead(EagleWeights weights, LlamaModel baseModel, int maxSeq = 0, CpuLlama? threadsOf = null)
    {
        ArgumentNullException.ThrowIfNull(weights);
        ArgumentNullException.ThrowIfNull(baseModel);
        weights.CheckCompatible(baseModel.Config, baseModel.SourcePath);
        if (maxSeq < 0) throw new InvalidRequestException($"maxSeq must be ≥ 0 (0 = the model's), got {maxSeq}");
        _w = weights;
        _c = weights.Config;
        _lmHead = baseModel.Weights.Classifier;
        MaxSeq = maxSeq == 0 ? baseModel.Config.MaxSeq : maxSeq;
        int dim = _c.Dim;
        _layerWeights = new LayerWeights
        {
            AttnNorm = [], // EAGLE-1's layer has no input_layernorm (never read: applyInputNorm is false)
            Wq = weights.Wq, Wk = weights.Wk, Wv = weights.Wv, Wo = weights.Wo,
            FfnNorm = weights.PostAttnNorm, W1 = weights.W1, W2 = weights.W2, W3 = weights.W3,
        };
        var rope = new RopeTable(_c.HeadDim, MaxSeq, _c.RopeTheta);
        if (threadsOf is null)
        {
            _mm = new CpuMatMul(null);
            _layer = new CpuDecoderLayer(_c, rope);
        }
        else
        {
            _mm = threadsOf.MatMul;
            _layer = new CpuDecoderLayer(_c, rope, threadsOf.MatMul, threadsOf.Pool);
        }
        _k = new float[MaxSeq * _c.KvDim];
        _v = new float[MaxSeq * _c.KvDim];
        _in = new float[2 * dim];
        _x = new float[dim];
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
        _mm.Gemv(_w.FcWeight, _in, _x, 2 * dim, dim, accumulate: false);
        if (_w.FcBias != null) TensorPrimitives.Add(_x, _w.FcBias, _x);

        // one decoder layer on x itself (no input norm), causal over the head's own positions 0..pos
        _layer.Run(_layerWeights, _x, pos, _k, _v, depth: [], layer: 0, applyInputNorm: false);
        Length = pos + 1;
    }

    /// <summary>logits [vocab] = base LM head · <see cref="Output"/> (EAGLE-1 has no final norm).</summary>
    public ReadOnlySpan<float> Logits()
    {
        _mm.Gemv(_lmHead, _x, _logits, _c.Dim, _c.Vocab, accumulate: false);
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
}
