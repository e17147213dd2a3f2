namespace SpecEE.Cuda.Model;

/// <summary>
/// The RoPE table uploaded to the device: for position p and pair i of a head, θ = p · ropeTheta^(−2i/headDim),
/// computed in fp64 and rounded to fp32 — the same formula and rounding as SpecEE.Cpu.RopeTable, so the device
/// rotates by exactly the CPU's cos/sin instead of its own sinf/cosf.
/// </summary>
public static class CudaRope
{
    /// <summary>cos and sin, each [maxSeq, headDim/2] f32 row-major.</summary>
    public static (float[] Cos, float[] Sin) Table(int headDim, int maxSeq, float theta)
    {
        int half = headDim / 2;
        var cos = new float[(long)maxSeq * half];
        var sin = new float[(long)maxSeq * half];
        for (int p = 0; p < maxSeq; p++)
            for (int i = 0; i < half; i++)
            {
                double angle = p * Math.Pow(theta, -2.0 * i / headDim);
                cos[p * half + i] = (float)Math.Cos(angle);
                sin[p * half + i] = (float)Math.Sin(angle);
            }
        return (cos, sin);
    }
}
