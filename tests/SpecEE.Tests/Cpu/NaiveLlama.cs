using SpecEE.Core.Model;

namespace SpecEE.Tests.Cpu;

/// <summary>
/// Independent fp64 reference of the Llama step written as plainly as possible (no SIMD, no caching tricks):
/// the textbook formulas of RMSNorm, interleaved-pair RoPE, GQA softmax attention and SwiGLU. Keeps its own
/// K/V lists and applies the skipped-layer rule itself: layer ℓ at pos sees q ≤ pos with q == pos or depth[q] &gt; ℓ.
/// </summary>
internal sealed class NaiveLlama(LlamaModel model)
{
    private readonly LlamaConfig _c = model.Config;
    private readonly LlamaWeights _w = model.Weights;
    private readonly Dictionary<(int Layer, int Pos), (double[] K, double[] V)> _kv = new();
    private readonly Dictionary<int, int> _depth = new();

    /// <summary>Runs token at pos through the first <paramref name="depth"/> layers; returns logits of final-norm(h).</summary>
    public double[] Step(int token, int pos, int depth)
    {
        int dim = _c.Dim, hd = _c.HeadDim;
        double[] x = Enumerable.Range(0, dim).Select(i => (double)_w.TokenEmbedding[token * dim + i]).ToArray();
        for (int l = 0; l < depth; l++)
        {
            var w = _w.Layers[l];
            var n = RmsNorm(x, w.AttnNorm);
            var q = MatVec(w.Wq, n, _c.NHeads * hd);
            var k = MatVec(w.Wk, n, _c.KvDim);
            var v = MatVec(w.Wv, n, _c.KvDim);
            Rope(q, pos); Rope(k, pos);
            _kv[(l, pos)] = (k, v);
            var visible = Enumerable.Range(0, pos + 1).Where(p => p == pos || _depth.GetValueOrDefault(p) > l).ToArray();
            var att = new double[_c.NHeads * hd];
            for (int h = 0; h < _c.NHeads; h++)
            {
                int g = h / _c.GqaGroup;
                var s = visible.Select(p => Enumerable.Range(0, hd).Sum(i => q[h * hd + i] * _kv[(l, p)].K[g * hd + i]) / Math.Sqrt(hd)).ToArray();
                double m = s.Max();
                var e = s.Select(z => Math.Exp(z - m)).ToArray();
                double sum = e.Sum();
                for (int j = 0; j < visible.Length; j++)
                    for (int i = 0; i < hd; i++) att[h * hd + i] += e[j] / sum * _kv[(l, visible[j])].V[g * hd + i];
            }
            Add(x, MatVec(w.Wo, att, dim));
            var m2 = RmsNorm(x, w.FfnNorm);
            var gate = MatVec(w.W1, m2, _c.HiddenDim);
            var up = MatVec(w.W3, m2, _c.HiddenDim);
            var act = gate.Select((g, i) => g / (1 + Math.Exp(-g)) * up[i]).ToArray();
            Add(x, MatVec(w.W2, act, dim));
        }
        _depth[pos] = depth;
        return MatVec(_w.Classifier, RmsNorm(x, _w.FinalNorm), _c.Vocab);
    }

    private double[] RmsNorm(double[] x, float[] w)
    {
        double ms = x.Sum(v => v * v) / x.Length;
        double s = 1 / Math.Sqrt(ms + _c.NormEps);
        return x.Select((v, i) => v * s * w[i]).ToArray();
    }

    private static double[] MatVec(float[] w, double[] x, int rows)
    {
        var y = new double[rows];
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < x.Length; c++) y[r] += w[r * x.Length + c] * x[c];
        return y;
    }

    private void Rope(double[] v, int pos)
    {
        int hd = _c.HeadDim;
        for (int h = 0; h < v.Length / hd; h++)
            for (int i = 0; i < hd / 2; i++)
            {
                double th = pos * Math.Pow(_c.RopeTheta, -2.0 * i / hd);
                double a = v[h * hd + 2 * i], b = v[h * hd + 2 * i + 1];
                v[h * hd + 2 * i] = a * Math.Cos(th) - b * Math.Sin(th);
                v[h * hd + 2 * i + 1] = a * Math.Sin(th) + b * Math.Cos(th);
            }
    }

    private static void Add(double[] x, double[] y) { for (int i = 0; i < x.Length; i++) x[i] += y[i]; }

    /// <summary>A model with seeded random weights (scaled like a trained model's: rows of unit-ish norm).</summary>
    public static LlamaModel RandomModel(int dim, int hidden, int layers, int heads, int kvHeads, int vocab, int maxSeq, int seed)
    {
        var rng = new Random(seed);
        float[] M(int rows, int cols) => Enumerable.Range(0, rows * cols).Select(_ => (float)((rng.NextDouble() * 2 - 1) * 1.7 / Math.Sqrt(cols))).ToArray();
        float[] Norm(int n) => Enumerable.Range(0, n).Select(_ => (float)(0.5 + rng.NextDouble())).ToArray();
        var cfg = new LlamaConfig { Dim = dim, HiddenDim = hidden, NLayers = layers, NHeads = heads, NKvHeads = kvHeads, Vocab = vocab, MaxSeq = maxSeq };
        int kv = cfg.KvDim;
        var ls = Enumerable.Range(0, layers).Select(_ => new LayerWeights
        {
            AttnNorm = Norm(dim), Wq = M(dim, dim), Wk = M(kv, dim), Wv = M(kv, dim), Wo = M(dim, dim),
            FfnNorm = Norm(dim), W1 = M(hidden, dim), W2 = M(dim, hidden), W3 = M(hidden, dim),
        }).ToArray();
        var emb = M(vocab, dim);
        var w = new LlamaWeights { TokenEmbedding = emb, Layers = ls, FinalNorm = Norm(dim), Classifier = M(vocab, dim) };
        return new LlamaModel { Config = cfg, Weights = w, SourcePath = $"random(seed={seed})", Format = "test" };
    }
}
