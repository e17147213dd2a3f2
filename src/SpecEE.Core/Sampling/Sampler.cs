namespace SpecEE.Core.Sampling;

/// <summary>
/// Picks the next token from logits: greedy argmax when the temperature is 0, otherwise seeded
/// temperature + top-p (nucleus) sampling. The same seed, settings and logits always give the same
/// tokens on every platform: the random numbers come from our own SplitMix64, not <see cref="Random"/>.
/// </summary>
public sealed class Sampler
{
    private ulong _state;
    private float[] _probs = [];  // [vocab] softmax(logits / temperature)
    private int[] _order = [];    // [vocab] candidate ids, sorted by probability

    /// <summary>0 = greedy.</summary>
    public float Temperature { get; }
    /// <summary>Nucleus mass in (0, 1]; 1 = sample from the whole distribution.</summary>
    public float TopP { get; }
    public ulong Seed { get; }

    public Sampler(float temperature = 0f, float topP = 1f, ulong seed = 0)
    {
        if (!(temperature >= 0f) || !float.IsFinite(temperature))
            throw new InvalidRequestException($"temperature must be a finite number ≥ 0 (0 = greedy), got {temperature}");
        if (!(topP > 0f && topP <= 1f))
            throw new InvalidRequestException($"top-p must be in (0, 1], got {topP}");
        Temperature = temperature; TopP = topP; Seed = seed;
        _state = seed;
    }

    /// <summary>Index of the largest logit; the lowest index wins ties and NaN never wins.</summary>
    public static int Argmax(ReadOnlySpan<float> logits)
    {
        if (logits.IsEmpty) throw new InvalidRequestException("cannot pick a token from empty logits");
        int best = 0;
        float bestValue = float.NegativeInfinity;
        for (int i = 0; i < logits.Length; i++)
            if (logits[i] > bestValue) { bestValue = logits[i]; best = i; }
        return best;
    }

    /// <summary>Next token id for <paramref name="logits"/> [vocab].</summary>
    public int Sample(ReadOnlySpan<float> logits)
    {
        if (Temperature == 0f) return Argmax(logits);
        int n = logits.Length;
        if (_probs.Length < n) { _probs = new float[n]; _order = new int[n]; }
        var p = _probs.AsSpan(0, n);

        // Softmax of logits / T in fp64 accumulation, shifted by the max for range.
        float max = logits[Argmax(logits)];
        double sum = 0;
        for (int i = 0; i < n; i++)
        {
            float e = float.IsNaN(logits[i]) ? 0f : MathF.Exp((logits[i] - max) / Temperature);
            p[i] = e;
            sum += e;
        }
        float inv = (float)(1.0 / sum);
        for (int i = 0; i < n; i++) p[i] *= inv;

        float r = NextFloat();
        if (TopP >= 1f) return SampleAll(p, r);

        // Nucleus: smallest set of most likely ids whose mass reaches topP. Ids below (1−topP)/(n−1) can
        // never be needed (the kept set reaches topP before them), so they are dropped before the sort.
        float cutoff = n > 1 ? (1f - TopP) / (n - 1) : 0f;
        int m = 0;
        for (int i = 0; i < n; i++) if (p[i] >= cutoff) _order[m++] = i;
        var cand = _order.AsSpan(0, m);
        cand.Sort(new ByProbability(_probs));
        double mass = 0;
        int kept = m;
        for (int i = 0; i < m; i++)
        {
            mass += p[cand[i]];
            if (mass >= TopP) { kept = i + 1; break; }
        }
        double target = r * mass;
        double acc = 0;
        for (int i = 0; i < kept; i++)
        {
            acc += p[cand[i]];
            if (target < acc) return cand[i];
        }
        return cand[kept - 1]; // rounding: r·mass landed on the total
    }

    private static int SampleAll(ReadOnlySpan<float> p, float r)
    {
        double acc = 0;
        int last = 0;
        for (int i = 0; i < p.Length; i++)
        {
            if (p[i] <= 0f) continue;
            acc += p[i];
            last = i;
            if (r < acc) return i;
        }
        return last; // rounding: the probabilities summed to slightly less than r
    }

    /// <summary>Uniform in [0, 1) with 24 random bits.</summary>
    private float NextFloat() => (NextUInt64() >> 40) * (1f / (1 << 24));

    /// <summary>SplitMix64 (Steele, Lea, Flood 2014): a full-period 64-bit generator that any seed, 0 included, starts well.</summary>
    private ulong NextUInt64()
    {
        ulong z = _state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>Higher probability first; equal probabilities by lower id, so the order is total and the sort deterministic.</summary>
    private readonly struct ByProbability(float[] probs) : IComparer<int>
    {
        public int Compare(int a, int b)
        {
            int c = probs[b].CompareTo(probs[a]);
            return c != 0 ? c : a.CompareTo(b);
        }
    }
}
