namespace SpecEE.Core.EarlyExit;

/// <summary>Where a <see cref="PredictorSet"/>'s offline layer set came from.</summary>
public enum OfflineSetOrigin
{
    /// <summary>Stored in the file's metadata (<c>specee.offline_layers</c>).</summary>
    Metadata,
    /// <summary>Supplied by the caller (e.g. the set hard-coded in SpecEE's code for its released Llama-2-7B predictors).</summary>
    Supplied,
    /// <summary>Neither: every layer that has a predictor (SpecEE's "T1" configuration, predictors at all layers).</summary>
    AllPredictors,
}

/// <summary>
/// The exit predictors of one model: one per decoder layer 0..L−2 (null where a layer has none; layer L−1 never
/// gets one because exiting after the last layer is no exit) plus the offline level of the two-level schedule.
/// </summary>
public sealed class PredictorSet
{
    private readonly ExitPredictor?[] _predictors;

    /// <summary>Decoder layers of the model the predictors belong to (L).</summary>
    public int NLayers { get; }

    /// <summary>Offline layer set, ascending, each in [0, L−2] and holding a predictor.</summary>
    public IReadOnlyList<int> OfflineLayers { get; }

    /// <summary>Where <see cref="OfflineLayers"/> came from.</summary>
    public OfflineSetOrigin OfflineOrigin { get; }

    /// <summary>Fire threshold on the sigmoid output; SpecEE uses 0.5 (exit test is pred &gt; threshold).</summary>
    public float Threshold { get; set; } = 0.5f;

    /// <param name="nLayers">L, the model's decoder layer count (≥ 2)</param>
    /// <param name="predictors">length L−1: the predictor after layer ℓ, or null</param>
    /// <param name="offlineLayers">offline set; null = every layer with a predictor</param>
    /// <param name="origin">provenance of the offline set, for reports</param>
    public PredictorSet(int nLayers, IReadOnlyList<ExitPredictor?> predictors, IEnumerable<int>? offlineLayers,
        OfflineSetOrigin origin = OfflineSetOrigin.Supplied)
    {
        if (nLayers < 2) throw new ArgumentOutOfRangeException(nameof(nLayers), $"need at least 2 layers, got {nLayers}");
        if (predictors.Count != nLayers - 1)
            throw new ArgumentException($"expected {nLayers - 1} predictor slots (layers 0..{nLayers - 2}), got {predictors.Count}", nameof(predictors));
        NLayers = nLayers;
        _predictors = predictors.ToArray();
        if (offlineLayers == null)
        {
            OfflineLayers = Enumerable.Range(0, nLayers - 1).Where(l => _predictors[l] != null).ToArray();
            OfflineOrigin = OfflineSetOrigin.AllPredictors;
        }
        else
        {
            int[] set = offlineLayers.Distinct().Order().ToArray();
            foreach (int l in set)
            {
                if (l < 0 || l > nLayers - 2)
                    throw new ArgumentException($"offline layer {l} is outside [0, {nLayers - 2}] (a {nLayers}-layer model)", nameof(offlineLayers));
                if (_predictors[l] == null)
                    throw new ArgumentException($"offline layer {l} has no predictor", nameof(offlineLayers));
            }
            OfflineLayers = set;
            OfflineOrigin = origin;
        }
    }

    /// <summary>The predictor evaluated after layer <paramref name="layer"/>, or null (always null for L−1).</summary>
    public ExitPredictor? this[int layer] => (uint)layer < (uint)_predictors.Length ? _predictors[layer] : null;

    /// <summary>True where layer ℓ (0..L−1) has a predictor; the mask <see cref="ExitSchedule"/> intersects with.</summary>
    public bool[] AvailabilityMask()
    {
        var m = new bool[NLayers];
        for (int l = 0; l < _predictors.Length; l++) m[l] = _predictors[l] != null;
        return m;
    }

    /// <summary>The same predictors with another offline set (e.g. from <see cref="OfflineLayerSelector"/>).</summary>
    public PredictorSet WithOfflineLayers(IEnumerable<int> offlineLayers, OfflineSetOrigin origin = OfflineSetOrigin.Supplied) =>
        new(NLayers, _predictors, offlineLayers ?? throw new ArgumentNullException(nameof(offlineLayers)), origin) { Threshold = Threshold };

    /// <summary>Number of layers that have a predictor.</summary>
    public int Count => _predictors.Count(p => p != null);
}
