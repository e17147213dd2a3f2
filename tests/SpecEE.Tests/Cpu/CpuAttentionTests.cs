using SpecEE.Core.Model;
using SpecEE.Cpu;

namespace SpecEE.Tests.Cpu;

/// <summary>The CPU attention against a max-subtracted fp64 softmax, including scores large enough to overflow exp() in fp32.</summary>
public class CpuAttentionTests
{
    [TestCase(1.0)]
    [TestCase(400.0)] // scores in the hundreds: a softmax without the max subtracted gives NaN
    public void Attend_MatchesFp64Softmax(double scoreScale)
    {
        var cfg = new LlamaConfig { Dim = 16, HiddenDim = 32, NLayers = 1, NHeads = 2, NKvHeads = 1, Vocab = 8, MaxSeq = 8 };
        int hd = cfg.HeadDim, n = 5;
        var rng = new Random(3);
        float[] q = Enumerable.Range(0, cfg.Dim).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        float[] keys = Enumerable.Range(0, cfg.MaxSeq * cfg.KvDim).Select(_ => (float)((rng.NextDouble() * 2 - 1) * scoreScale)).ToArray();
        float[] values = Enumerable.Range(0, cfg.MaxSeq * cfg.KvDim).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        int[] visible = [0, 1, 2, 3, 4];
        var output = new float[cfg.Dim];
        Array.Fill(output, float.NaN);
        Attention.Attend(cfg, q, keys, values, visible, new float[n], output);

        for (int h = 0; h < cfg.NHeads; h++)
        {
            var s = new double[n];
            for (int i = 0; i < n; i++)
            {
                double dot = 0;
                for (int d = 0; d < hd; d++) dot += (double)q[h * hd + d] * keys[visible[i] * cfg.KvDim + d];
                s[i] = dot / Math.Sqrt(hd);
            }
            double max = s.Max(), sum = s.Sum(x => Math.Exp(x - max));
            for (int d = 0; d < hd; d++)
            {
                double expected = 0;
                for (int i = 0; i < n; i++) expected += Math.Exp(s[i] - max) / sum * values[visible[i] * cfg.KvDim + d];
                float got = output[h * hd + d];
                Assert.That(got, Is.EqualTo(expected).Within(1e-4 + 1e-4 * Math.Abs(expected)), $"head {h} element {d}");
            }
        }
    }
}
