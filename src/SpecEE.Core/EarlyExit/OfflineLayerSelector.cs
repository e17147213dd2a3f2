namespace SpecEE.Core.EarlyExit;

/// <summary>A chosen offline set with the share of counted exits it covers.</summary>
public sealed record OfflineSelection(IReadOnlyList<int> Layers, double Coverage, long Exits, long Positions);

/// <summary>
/// The offline level of SpecEE's schedule (paper §5.3): run the model with every predictor active, count how often
/// each layer is where the token exits, rank layers by that frequency and keep the top set.
/// <para>
/// Counting: feed, per generated position, the per-layer booleans "predictor fired AND verification passed"
/// (layers 0..L−2). With all predictors active the token leaves at the <em>first</em> such layer, so that layer
/// alone is counted; positions with none are non-exits and are counted only in <see cref="Positions"/>.
/// </para>
/// <para>
/// Cut (the paper gives none; SpecEE hard-codes 8 of 31 layers for Llama-2-7B): the smallest set of top-frequency
/// layers whose exits cover at least <c>coverage</c> of all exits, optionally capped at <c>maxLayers</c>.
/// A coverage cut, not top-k, because it adapts to depth and skew: the paper observes that the bottom half of
/// layers holds ≤ 20 % of exits, so the default 0.8 drops that tail — at most about half the layers — and leaves
/// it to the online level, which (±2 around the last 5 exits) catches ~80 % of exits by itself. A top-k cut is
/// <c>coverage = 1, maxLayers = k</c>. Frequency ties go to the earlier layer, which saves more compute.
/// </para>
/// </summary>
public sealed class OfflineLayerSelector
{
    private readonly long[] _exitCounts; // [L−1] first-exit counts

    /// <summary>Decoder layers L.</summary>
    public int NLayers { get; }

    /// <summary>Positions counted.</summary>
    public long Positions { get; private set; }

    /// <summary>Positions that exited somewhere before the last layer.</summary>
    public long Exits { get; private set; }

    /// <summary>Exits per layer 0..L−2.</summary>
    public ReadOnlySpan<long> ExitCounts => _exitCounts;

    /// <param name="nLayers">L ≥ 2</param>
    public OfflineLayerSelector(int nLayers)
    {
        if (nLayers < 2) throw new ArgumentOutOfRangeException(nameof(nLayers), $"need at least 2 layers, got {nLayers}");
        NLayers = nLayers;
        _exitCounts = new long[nLayers - 1];
    }

    /// <summary>Counts one position: <paramref name="firedAndVerified"/>[ℓ] for layers 0..L−2 (length L−1).</summary>
    public void Add(ReadOnlySpan<bool> firedAndVerified)
    {
        if (firedAndVerified.Length != NLayers - 1)
            throw new ArgumentException($"expected {NLayers - 1} per-layer flags (layers 0..{NLayers - 2}), got {firedAndVerified.Length}", nameof(firedAndVerified));
        Positions++;
        int first = firedAndVerified.IndexOf(true);
        if (first < 0) return;
        _exitCounts[first]++;
        Exits++;
    }

    /// <summary>Picks the offline set (ascending layers); see the class remarks for the rule.</summary>
    /// <param name="coverage">share of counted exits the set must cover, in (0, 1]</param>
    /// <param name="maxLayers">upper bound on the set's size</param>
    public OfflineSelection Select(double coverage = 0.8, int maxLayers = int.MaxValue)
    {
        if (!(coverage > 0 && coverage <= 1)) throw new InvalidRequestException($"offline coverage must be in (0, 1], got {coverage}");
        if (maxLayers < 0) throw new InvalidRequestException($"max offline layers must be ≥ 0, got {maxLayers}");
        int[] ranked = Enumerable.Range(0, NLayers - 1)
            .Where(l => _exitCounts[l] > 0)
            .OrderByDescending(l => _exitCounts[l]).ThenBy(l => l)
            .ToArray();
        var chosen = new List<int>();
        long covered = 0;
        foreach (int l in ranked)
        {
            // Integer test of covered/Exits ≥ coverage, so that e.g. 0.8 of 10 needs exactly 8 without float slop.
            if (chosen.Count >= maxLayers || (Exits > 0 && covered >= Math.Ceiling(coverage * Exits - 1e-9))) break;
            chosen.Add(l);
            covered += _exitCounts[l];
        }
        chosen.Sort();
        return new OfflineSelection(chosen, Exits == 0 ? 0 : covered / (double)Exits, Exits, Positions);
    }
}
