namespace SpecEE.Core.EarlyExit;

/// <summary>
/// SpecEE's two-level heuristic predictor schedule: which layers run a predictor in the next decode step.
/// <para>
/// Scheduled = (offline set ∪ online set) ∩ layers that have a predictor, where the online set is
/// {e−2, e, e+2} for each e among the last <see cref="Window"/> entries of the exit history, clipped to [0, L−2].
/// </para>
/// <para>
/// Official rule, followed exactly (infinigence/SpecEE cloud <c>model_llama_ee.py</c>, PC <c>build_eauto</c>'s
/// <c>exit_map</c>): the history gets one entry per forward, prefill included; a forward that did not exit counts
/// as the last layer L−1 (so it contributes {L−3}; L−1 and L+1 are clipped away). The online set is used only once
/// the history holds at least 5 entries; before that only the offline set is scheduled. It is e±2 and e itself but
/// not e±1 (the paper's text says "±2 layers", the code adds exactly these three). Entries are 0-based exit layers
/// as in the PC code; the HF code stores the executed layer count (exit layer + 1) and adds the same offsets to it,
/// which shifts its online set up by one layer, an inconsistency of the original that we do not copy.
/// </para>
/// <para>
/// The history is per generation session (<see cref="Reset"/>); SpecEE's eval scripts never reset it between
/// prompts. <see cref="IsScheduled"/> reads a bitmask that <see cref="Record"/> rebuilds: copy the offline words,
/// set at most 15 bits, and mask with the availability words, so a step pays O(L/64).
/// </para>
/// </summary>
public sealed class ExitSchedule
{
    /// <summary>How many recent exits feed the online level (the paper's circular queue of N = 5).</summary>
    public const int Window = 5;

    private readonly ulong[] _offline;    // [ceil(L/64)] bit ℓ = ℓ is in the offline set
    private readonly ulong[] _available;  // [ceil(L/64)] bit ℓ = layer ℓ has a predictor and ℓ ≤ L−2
    private readonly ulong[] _mask;       // [ceil(L/64)] current schedule
    private readonly int[] _ring = new int[Window]; // last Window exit layers, circular
    private long _count;                  // entries recorded since Reset

    /// <summary>Decoder layers L.</summary>
    public int NLayers { get; }

    /// <summary>Entries recorded since the last <see cref="Reset"/> (one per forward).</summary>
    public long HistoryCount => _count;

    /// <param name="nLayers">L ≥ 2</param>
    /// <param name="offlineLayers">offline set, each in [0, L−2]</param>
    /// <param name="available">optional [L]: false where a layer has no predictor; such layers are never scheduled</param>
    public ExitSchedule(int nLayers, IEnumerable<int> offlineLayers, ReadOnlySpan<bool> available = default)
    {
        if (nLayers < 2) throw new ArgumentOutOfRangeException(nameof(nLayers), $"need at least 2 layers, got {nLayers}");
        if (!available.IsEmpty && available.Length != nLayers)
            throw new ArgumentException($"availability mask has {available.Length} entries, expected {nLayers}", nameof(available));
        NLayers = nLayers;
        int words = (nLayers + 63) / 64;
        _offline = new ulong[words];
        _available = new ulong[words];
        _mask = new ulong[words];
        for (int l = 0; l <= nLayers - 2; l++)
            if (available.IsEmpty || available[l]) Set(_available, l);
        foreach (int l in offlineLayers)
        {
            if (l < 0 || l > nLayers - 2)
                throw new ArgumentOutOfRangeException(nameof(offlineLayers), $"offline layer {l} is outside [0, {nLayers - 2}]");
            Set(_offline, l);
        }
        Rebuild();
    }

    /// <summary>A schedule for a predictor set: its offline layers, restricted to layers that have a predictor.</summary>
    public static ExitSchedule For(PredictorSet set) => new(set.NLayers, set.OfflineLayers, set.AvailabilityMask());

    /// <summary>Starts a new generation session: empties the history, back to the offline set.</summary>
    public void Reset()
    {
        _count = 0;
        Array.Clear(_ring);
        Rebuild();
    }

    /// <summary>
    /// Appends one forward's exit layer (0-based; L−1 for prefill and for a step that ran all layers) and rebuilds
    /// the schedule for the next step.
    /// </summary>
    public void Record(int exitLayer)
    {
        if (exitLayer < 0 || exitLayer > NLayers - 1)
            throw new ArgumentOutOfRangeException(nameof(exitLayer), $"exit layer {exitLayer} is outside [0, {NLayers - 1}]");
        _ring[(int)(_count % Window)] = exitLayer;
        _count++;
        Rebuild();
    }

    /// <summary>Whether a predictor runs after layer <paramref name="layer"/> in the next step.</summary>
    public bool IsScheduled(int layer) =>
        (uint)layer < (uint)NLayers && (_mask[layer >> 6] & (1UL << (layer & 63))) != 0;

    /// <summary>The schedule as 64-bit words, bit ℓ of word ℓ/64 (what a device kernel reads).</summary>
    public ReadOnlySpan<ulong> MaskWords => _mask;

    /// <summary>The scheduled layers, ascending.</summary>
    public IEnumerable<int> ScheduledLayers()
    {
        for (int l = 0; l < NLayers; l++)
            if (IsScheduled(l)) yield return l;
    }

    /// <summary>How many layers are scheduled for the next step.</summary>
    public int ScheduledCount
    {
        get
        {
            int n = 0;
            foreach (ulong w in _mask) n += System.Numerics.BitOperations.PopCount(w);
            return n;
        }
    }

    private void Rebuild()
    {
        _offline.CopyTo(_mask, 0);
        if (_count >= Window) // official: online level only once ≥ 5 exits are known
        {
            foreach (int e in _ring) // the ring holds exactly the last 5 entries once _count ≥ 5
            {
                for (int d = -2; d <= 2; d += 2) // e−2, e, e+2 — not e±1
                {
                    int l = e + d;
                    if (l >= 0 && l <= NLayers - 2) Set(_mask, l);
                }
            }
        }
        for (int i = 0; i < _mask.Length; i++) _mask[i] &= _available[i];
    }

    private static void Set(ulong[] words, int bit) => words[bit >> 6] |= 1UL << (bit & 63);
}
