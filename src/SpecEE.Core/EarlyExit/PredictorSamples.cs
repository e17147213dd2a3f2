namespace SpecEE.Core.EarlyExit;

/// <summary>
/// Training rows for the exit predictors, per layer: 12 features and a label each. Label 1 = the final-normed
/// argmax at that layer already equals the token the full model outputs (SpecEE §2.1; we label with the normed
/// logits, as verification does at inference, not the un-normed ones of the original script).
/// Filled by whatever runs the dense model with EAGLE; consumed by <see cref="PredictorTrainer"/>.
/// </summary>
public sealed class PredictorSamples
{
    private readonly List<float>[] _features; // per layer: [rows, 12] row-major
    private readonly List<bool>[] _labels;    // per layer: [rows]

    /// <summary>Decoder layers L; rows are kept for layers 0..L−2.</summary>
    public int NLayers { get; }

    /// <param name="nLayers">L ≥ 2</param>
    public PredictorSamples(int nLayers)
    {
        if (nLayers < 2) throw new ArgumentOutOfRangeException(nameof(nLayers), $"need at least 2 layers, got {nLayers}");
        NLayers = nLayers;
        _features = Enumerable.Range(0, nLayers - 1).Select(_ => new List<float>()).ToArray();
        _labels = Enumerable.Range(0, nLayers - 1).Select(_ => new List<bool>()).ToArray();
    }

    /// <summary>Adds one row for the predictor after <paramref name="layer"/> (0..L−2).</summary>
    public void Add(int layer, ReadOnlySpan<float> features, bool label)
    {
        if ((uint)layer > (uint)(NLayers - 2))
            throw new ArgumentOutOfRangeException(nameof(layer), $"layer {layer} is outside [0, {NLayers - 2}]");
        if (features.Length != ExitFeatures.FeatureCount)
            throw new ArgumentException($"expected {ExitFeatures.FeatureCount} features, got {features.Length}", nameof(features));
        foreach (float f in features)
            if (!float.IsFinite(f)) throw new ArgumentException($"non-finite feature {f} at layer {layer}", nameof(features));
        _features[layer].AddRange(features);
        _labels[layer].Add(label);
    }

    /// <summary>Rows stored for a layer.</summary>
    public int Count(int layer) => _labels[layer].Count;

    /// <summary>The rows of a layer: features [rows·12] and labels [rows] (copies).</summary>
    public (float[] Features, bool[] Labels) Layer(int layer) => (_features[layer].ToArray(), _labels[layer].ToArray());
}
