namespace SpecEE.Core.EarlyExit;

/// <summary>
/// The 12 input features of a SpecEE exit predictor and the per-step state they need.
/// <para>
/// At a scheduled layer ℓ of decode step t: z = W_lm[c] · RMSNorm_final(h_ℓ) are the logits of the 4 EAGLE
/// candidate ids c[0..3] (the 4 gathered LM-head rows times the final-normed hidden state), p = softmax(z) over
/// those 4 values only, and Δ = p − pPrev, where pPrev is the p of the previous <em>scheduled</em> layer of the
/// same step (not necessarily ℓ−1). At the first scheduled layer of a step Δ = p, as in the official code
/// (infinigence/SpecEE: cloud model_llama_ee.py and PC <c>candidate_last_p</c>), not zeros.
/// The feature vector is <c>[z0..z3, p0..p3, Δ0..Δ3]</c>, in that order.
/// </para>
/// <para>
/// One instance per generation stream; call <see cref="Reset"/> at the start of every decode step.
/// <see cref="Compute"/> advances pPrev whether or not the predictor then fires or verification passes
/// (the official code does the same: a failed verification still moves the state on).
/// </para>
/// </summary>
public sealed class ExitFeatures
{
    /// <summary>Number of speculative candidates the features are built from (EAGLE's top-4).</summary>
    public const int CandidateCount = 4;

    /// <summary>Length of the feature vector: 4 logits, 4 probabilities, 4 probability deltas.</summary>
    public const int FeatureCount = 3 * CandidateCount;

    private readonly float[] _pPrev = new float[CandidateCount];
    private bool _hasPrev;

    /// <summary>True once a scheduled layer of the current step has produced features.</summary>
    public bool HasPrevious => _hasPrev;

    /// <summary>p of the last scheduled layer of this step (all zeros right after <see cref="Reset"/>).</summary>
    public ReadOnlySpan<float> PreviousProbabilities => _pPrev;

    /// <summary>Starts a new decode step: the next <see cref="Compute"/> uses Δ = p.</summary>
    public void Reset()
    {
        Array.Clear(_pPrev);
        _hasPrev = false;
    }

    /// <summary>
    /// Writes <c>[z, softmax(z), softmax(z) − pPrev]</c> into <paramref name="features"/> (length 12) and
    /// makes softmax(z) the pPrev of the next scheduled layer of this step.
    /// </summary>
    /// <param name="candidateLogits">z: the 4 candidate logits from the final-normed hidden state.</param>
    /// <param name="features">destination [12]</param>
    public void Compute(ReadOnlySpan<float> candidateLogits, Span<float> features)
    {
        if (candidateLogits.Length != CandidateCount)
            throw new ArgumentException($"expected {CandidateCount} candidate logits, got {candidateLogits.Length}", nameof(candidateLogits));
        if (features.Length != FeatureCount)
            throw new ArgumentException($"expected a feature buffer of {FeatureCount}, got {features.Length}", nameof(features));

        Span<float> p = stackalloc float[CandidateCount];
        Softmax4(candidateLogits, p);
        for (int i = 0; i < CandidateCount; i++)
        {
            features[i] = candidateLogits[i];
            features[CandidateCount + i] = p[i];
            features[2 * CandidateCount + i] = _hasPrev ? p[i] - _pPrev[i] : p[i];
        }
        p.CopyTo(_pPrev);
        _hasPrev = true;
    }

    /// <summary>
    /// Numerically stable softmax over 4 values in fp32: exp(z − max z) / Σ. The same formula the device kernels
    /// use, so the CPU and GPU paths agree to rounding.
    /// </summary>
    public static void Softmax4(ReadOnlySpan<float> z, Span<float> p)
    {
        float max = MathF.Max(MathF.Max(z[0], z[1]), MathF.Max(z[2], z[3]));
        float sum = 0f;
        for (int i = 0; i < CandidateCount; i++)
        {
            p[i] = MathF.Exp(z[i] - max);
            sum += p[i];
        }
        float inv = 1f / sum;
        for (int i = 0; i < CandidateCount; i++) p[i] *= inv;
    }

    /// <summary>
    /// CPU reference for the candidate logits: z[i] = Σ_d lmHead[c[i], d] · normed[d].
    /// Done once per layer with the 4 rows of the (row-major [vocab, dim]) LM head that the step's candidates select.
    /// </summary>
    /// <param name="lmHead">classifier weights [vocab, dim] row-major</param>
    /// <param name="dim">model width</param>
    /// <param name="candidates">the 4 candidate token ids</param>
    /// <param name="normed">final-normed hidden state [dim]</param>
    /// <param name="z">destination [4]</param>
    public static void CandidateLogits(ReadOnlySpan<float> lmHead, int dim, ReadOnlySpan<int> candidates,
        ReadOnlySpan<float> normed, Span<float> z)
    {
        if (candidates.Length != CandidateCount || z.Length != CandidateCount)
            throw new ArgumentException($"expected {CandidateCount} candidates and logits");
        if (normed.Length != dim) throw new ArgumentException($"hidden state has {normed.Length} values, expected {dim}", nameof(normed));
        int vocab = lmHead.Length / dim;
        for (int i = 0; i < CandidateCount; i++)
        {
            int c = candidates[i];
            if ((uint)c >= (uint)vocab)
                throw new InvalidRequestException($"candidate token id {c} is outside the vocabulary [0, {vocab})");
            z[i] = System.Numerics.Tensors.TensorPrimitives.Dot(lmHead.Slice(c * dim, dim), normed);
        }
    }
}
