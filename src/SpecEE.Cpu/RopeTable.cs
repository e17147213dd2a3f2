namespace SpecEE.Cpu;

/// <summary>
/// Precomputed rotary tables for interleaved-pair RoPE: for pair i of a head (elements 2i, 2i+1),
/// θ = pos · ropeTheta^(−2i/headDim) and (x0, x1) → (x0·cos θ − x1·sin θ, x0·sin θ + x1·cos θ).
/// </summary>
public sealed class RopeTable
{
    private readonly float[] _cos; // [maxSeq, headDim/2]
    private readonly float[] _sin; // [maxSeq, headDim/2]

    public int HeadDim { get; }
    public int MaxSeq { get; }

    public RopeTable(int headDim, int maxSeq, float theta)
    {
        HeadDim = headDim; MaxSeq = maxSeq;
        int half = headDim / 2;
        _cos = new float[maxSeq * half];
        _sin = new float[maxSeq * half];
        for (int p = 0; p < maxSeq; p++)
            for (int i = 0; i < half; i++)
            {
                // Angles in fp64 so large positions keep their precision; the table itself is fp32.
                double angle = p * Math.Pow(theta, -2.0 * i / headDim);
                _cos[p * half + i] = (float)Math.Cos(angle);
                _sin[p * half + i] = (float)Math.Sin(angle);
            }
    }

    /// <summary>Rotates every head of <paramref name="x"/> ([nHeads·headDim]) in place for position <paramref name="pos"/>.</summary>
    public void Apply(Span<float> x, int pos)
    {
        int half = HeadDim / 2;
        var cos = new ReadOnlySpan<float>(_cos, pos * half, half);
        var sin = new ReadOnlySpan<float>(_sin, pos * half, half);
        for (int h = 0; h < x.Length; h += HeadDim)
        {
            var v = x.Slice(h, HeadDim);
            for (int i = 0; i < half; i++)
            {
                float x0 = v[2 * i], x1 = v[2 * i + 1], c = cos[i], s = sin[i];
                v[2 * i] = x0 * c - x1 * s;
                v[2 * i + 1] = x0 * s + x1 * c;
            }
        }
    }
}
