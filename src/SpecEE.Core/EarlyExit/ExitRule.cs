namespace SpecEE.Core.EarlyExit;

/// <summary>
/// SpecEE's verified exit (paper §4.3.3, Fig. 9; official cloud and PC code): when the predictor at layer ℓ fires,
/// the full LM head runs on the final-normed hidden state and the model exits iff that global argmax T is one of the
/// 4 speculative candidates. The emitted token is T itself (the argmax over the whole vocabulary, not the best of
/// the 4). A failed verification continues to the next layer; the exit, once taken, is final.
/// </summary>
public static class ExitRule
{
    /// <summary>Exit iff the predictor fired and <paramref name="layerArgmax"/> is among <paramref name="candidates"/>.</summary>
    public static bool ShouldExit(bool predictorFired, int layerArgmax, ReadOnlySpan<int> candidates) =>
        predictorFired && candidates.Contains(layerArgmax);

    /// <summary>
    /// The full decision from a fired predictor and the layer's full-vocabulary logits: computes the argmax (lowest
    /// index wins ties, as the greedy sampler) and returns whether to exit; <paramref name="token"/> is the argmax.
    /// Call only when the predictor fired: the LM head is the expensive part, skipped otherwise.
    /// </summary>
    public static bool TryExit(ReadOnlySpan<float> layerLogits, ReadOnlySpan<int> candidates, out int token)
    {
        token = Argmax(layerLogits);
        return ShouldExit(true, token, candidates);
    }

    /// <summary>Index of the largest value; the lowest index wins ties; NaN never wins.</summary>
    public static int Argmax(ReadOnlySpan<float> values)
    {
        if (values.IsEmpty) throw new ArgumentException("argmax of an empty vector", nameof(values));
        int best = 0;
        float bestValue = float.NegativeInfinity;
        for (int i = 0; i < values.Length; i++)
            if (values[i] > bestValue) { bestValue = values[i]; best = i; }
        return best;
    }
}
