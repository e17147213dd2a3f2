using SpecEE.Core;

namespace SpecEE.Cpu;

/// <summary>
/// Preallocated key/value cache of a decoder stack plus the per-position depth that drives the
/// skipped-layer mask of early exit.
/// </summary>
/// <remarks>
/// A token that exited after running <c>Depth[pos]</c> layers never wrote K/V for layers ≥ that depth,
/// so attention of layer ℓ sees position q only when <c>q == pos || Depth[q] &gt; ℓ</c>.
/// RoPE always uses absolute positions, so skipped entries leave no gap in the rotation.
/// </remarks>
public sealed class KvCache
{
    /// <summary>Cached keys, [nLayers, maxSeq, kvDim] f32, already rotated by RoPE.</summary>
    public float[] Keys { get; }
    /// <summary>Cached values, [nLayers, maxSeq, kvDim] f32.</summary>
    public float[] Values { get; }
    /// <summary>[maxSeq]: how many layers the token at each position ran (nLayers = dense; 0 = not committed).</summary>
    public int[] Depth { get; }
    public int NLayers { get; }
    public int MaxSeq { get; }
    public int KvDim { get; }

    public KvCache(int nLayers, int maxSeq, int kvDim)
    {
        if (nLayers <= 0 || maxSeq <= 0 || kvDim <= 0)
            throw new InvalidRequestException($"KV cache needs positive sizes, got nLayers={nLayers} maxSeq={maxSeq} kvDim={kvDim}");
        long n = (long)nLayers * maxSeq * kvDim;
        if (n > Array.MaxLength)
            throw new InvalidRequestException($"KV cache of nLayers={nLayers} × maxSeq={maxSeq} × kvDim={kvDim} floats exceeds one array; use a shorter context");
        NLayers = nLayers; MaxSeq = maxSeq; KvDim = kvDim;
        Keys = new float[n];
        Values = new float[n];
        Depth = new int[maxSeq];
    }

    /// <summary>Keys of one layer, [maxSeq, kvDim].</summary>
    public Span<float> LayerKeys(int layer) => Keys.AsSpan(layer * MaxSeq * KvDim, MaxSeq * KvDim);
    /// <summary>Values of one layer, [maxSeq, kvDim].</summary>
    public Span<float> LayerValues(int layer) => Values.AsSpan(layer * MaxSeq * KvDim, MaxSeq * KvDim);

    /// <summary>Forgets every position (depths back to 0); the K/V contents are simply overwritten later.</summary>
    public void Reset() => Array.Clear(Depth);
}
