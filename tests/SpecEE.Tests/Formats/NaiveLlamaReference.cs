using SpecEE.Core.Model;

namespace SpecEE.Tests.Formats;

/// <summary>
/// A deliberately naive fp64 Llama forward over a whole prompt (no KV cache, recomputed per call), used only to
/// check that a reader put every weight where the engine's contract says: [out, in] rows, Q/K in the
/// interleaved-pair RoPE order, w1 = gate, w3 = up, w2 = down. Compared against the fixtures' reference logits,
/// which were computed by independent numpy / PyTorch implementations.
/// </summary>
internal static class NaiveLlamaReference
{
    /// <summary>Logits [vocab] of the last token of <paramref name="tokens"/>.</summary>
    public static double[] LastLogits(LlamaModel model, IReadOnlyList<int> tokens)
    {
        var c = model.Config;
        var w = model.Weights;
        int n = tokens.Count, dim = c.Dim, hd = c.HeadDim, kvDim = c.KvDim;
        var x = new double[n][];
        for (int t = 0; t < n; t++) x[t] = w.TokenEmbedding.AsSpan(tokens[t] * dim, dim).ToArray().Select(v => (double)v).ToArray();

        foreach (var layer in w.Layers)
        {
            var q = new double[n][]; var k = new double[n][]; var v = new double[n][];
            for (int t = 0; t < n; t++)
            {
                var h = RmsNorm(x[t], layer.AttnNorm, c.NormEps);
                q[t] = Rope(MatVec(layer.Wq, h, c.NHeads * hd), t, hd, c.RopeTheta);
                k[t] = Rope(MatVec(layer.Wk, h, kvDim), t, hd, c.RopeTheta);
                v[t] = MatVec(layer.Wv, h, kvDim);
            }
            for (int t = 0; t < n; t++)
            {
                var att = new double[c.NHeads * hd];
                for (int head = 0; head < c.NHeads; head++)
                {
                    int kvHead = head / c.GqaGroup;
                    var scores = new double[t + 1];
                    for (int s = 0; s <= t; s++)
                    {
                        double dot = 0;
                        for (int i = 0; i < hd; i++) dot += q[t][head * hd + i] * k[s][kvHead * hd + i];
                        scores[s] = dot / Math.Sqrt(hd);
                    }
                    double max = scores.Max(), sum = 0;
                    for (int s = 0; s <= t; s++) sum += scores[s] = Math.Exp(scores[s] - max);
                    for (int s = 0; s <= t; s++)
                        for (int i = 0; i < hd; i++) att[head * hd + i] += scores[s] / sum * v[s][kvHead * hd + i];
                }
                Add(x[t], MatVec(layer.Wo, att, dim));
                var h2 = RmsNorm(x[t], layer.FfnNorm, c.NormEps);
                var gate = MatVec(layer.W1, h2, c.HiddenDim);
                var up = MatVec(layer.W3, h2, c.HiddenDim);
                for (int i = 0; i < gate.Length; i++) gate[i] = gate[i] / (1 + Math.Exp(-gate[i])) * up[i];
                Add(x[t], MatVec(layer.W2, gate, dim));
            }
        }
        return MatVec(w.Classifier, RmsNorm(x[n - 1], w.FinalNorm, c.NormEps), c.Vocab);
    }

    /// <summary>Interleaved-pair RoPE: pair (2i, 2i+1) of each head turns by pos · θ^(−2i/headDim).</summary>
    public static double[] Rope(double[] x, int pos, int headDim, double theta)
    {
        var r = (double[])x.Clone();
        for (int head = 0; head < x.Length / headDim; head++)
            for (int i = 0; i < headDim / 2; i++)
            {
                double a = pos * Math.Pow(theta, -2.0 * i / headDim), cos = Math.Cos(a), sin = Math.Sin(a);
                int p = head * headDim + 2 * i;
                r[p] = x[p] * cos - x[p + 1] * sin;
                r[p + 1] = x[p] * sin + x[p + 1] * cos;
            }
        return r;
    }

    /// <summary>HF rotate-half RoPE: element i pairs with i + headDim/2 and turns by pos · θ^(−2i/headDim).</summary>
    public static double[] RopeRotateHalf(double[] x, int pos, int headDim, double theta)
    {
        var r = (double[])x.Clone();
        int half = headDim / 2;
        for (int head = 0; head < x.Length / headDim; head++)
            for (int i = 0; i < half; i++)
            {
                double a = pos * Math.Pow(theta, -2.0 * i / headDim), cos = Math.Cos(a), sin = Math.Sin(a);
                int p = head * headDim + i;
                r[p] = x[p] * cos - x[p + half] * sin;
                r[p + half] = x[p + half] * cos + x[p] * sin;
            }
        return r;
    }

    public static double[] MatVec(float[] w, double[] x, int rows)
    {
        var y = new double[rows];
        for (int r = 0; r < rows; r++)
        {
            double s = 0;
            for (int i = 0; i < x.Length; i++) s += w[r * x.Length + i] * x[i];
            y[r] = s;
        }
        return y;
    }

    private static double[] RmsNorm(double[] x, float[] g, double eps)
    {
        double ms = x.Sum(v => v * v) / x.Length, inv = 1 / Math.Sqrt(ms + eps);
        return x.Select((v, i) => v * inv * g[i]).ToArray();
    }

    private static void Add(double[] acc, double[] d)
    {
        for (int i = 0; i < acc.Length; i++) acc[i] += d[i];
    }
}
