using SpecEE.Core.EarlyExit;

namespace SpecEE.Tests.EarlyExit;

public class PredictorTrainerTests
{
    // Toy data for layers 0..L−2: 12 features uniform in [−1, 1]; label = (w·x > 0) with a per-layer direction w,
    // rows within 0.05 of the boundary dropped. Linearly separable, so an MLP must get it nearly all right.
    private static PredictorSamples Toy(int nLayers, int rowsPerLayer, int seed)
    {
        var rng = new Random(seed);
        var s = new PredictorSamples(nLayers);
        var x = new float[12];
        for (int l = 0; l < nLayers - 1; l++)
        {
            int added = 0;
            while (added < rowsPerLayer)
            {
                for (int k = 0; k < 12; k++) x[k] = (float)(rng.NextDouble() * 2 - 1);
                double score = x[0] + x[1] - x[2] + 0.5 * x[4 + l % 8] - 0.1 * l;
                if (Math.Abs(score) < 0.05) continue;
                s.Add(l, x, score > 0);
                added++;
            }
        }
        return s;
    }

    private static readonly PredictorTrainingOptions Fast = new() { Hidden = 32, Epochs = 30, BatchSize = 64, Seed = 42 };

    [Test]
    public void LearnsASeparableProblem()
    {
        var result = PredictorTrainer.Train(Toy(4, 1500, 1), Fast with { MaxParallelLayers = 2 });
        Assert.That(result.Reports.Count, Is.EqualTo(3));
        foreach (var r in result.Reports)
        {
            Assert.That(r.TestRows, Is.EqualTo(300), "ceil(0.2·1500) held out");
            Assert.That(r.TrainRows, Is.EqualTo(1200));
            Assert.That(r.TestAccuracy, Is.GreaterThan(0.95), $"layer {r.Layer}");
        }
        Assert.That(result.Predictors.Count, Is.EqualTo(3));
        Assert.That(result.Predictors.OfflineOrigin, Is.EqualTo(OfflineSetOrigin.AllPredictors));
    }

    [Test]
    public void IsBitIdenticalForASeed_AndDependsOnIt()
    {
        var data = Toy(3, 400, 2);
        var opts = Fast with { Hidden = 64, Epochs = 5 };
        int calls = 0;
        var a = PredictorTrainer.Train(data, opts with { MaxParallelLayers = 2 }, _ => Interlocked.Increment(ref calls));
        var b = PredictorTrainer.Train(data, opts with { MaxParallelLayers = 1 });
        var c = PredictorTrainer.Train(data, opts with { Seed = 43 });
        Assert.That(calls, Is.EqualTo(2 * 5), "one progress call per layer epoch");
        for (int l = 0; l < 2; l++)
        {
            Assert.That(a.Predictors[l]!.UpWeight.ToArray(), Is.EqualTo(b.Predictors[l]!.UpWeight.ToArray()));
            Assert.That(a.Predictors[l]!.UpBias.ToArray(), Is.EqualTo(b.Predictors[l]!.UpBias.ToArray()));
            Assert.That(a.Predictors[l]!.DownWeight.ToArray(), Is.EqualTo(b.Predictors[l]!.DownWeight.ToArray()));
            Assert.That(a.Predictors[l]!.DownBias, Is.EqualTo(b.Predictors[l]!.DownBias));
            Assert.That(a.Reports[l], Is.EqualTo(b.Reports[l]));
            Assert.That(c.Predictors[l]!.UpWeight.ToArray(), Is.Not.EqualTo(a.Predictors[l]!.UpWeight.ToArray()));
        }
    }

    [Test]
    public void LayersWithoutData_GetNoPredictor()
    {
        var s = new PredictorSamples(4);
        var x = new float[12];
        for (int i = 0; i < 20; i++) { x[0] = i - 10; s.Add(1, x, i >= 10); }
        var r = PredictorTrainer.Train(s, Fast with { Epochs = 2 });
        Assert.That(r.Predictors[0], Is.Null);
        Assert.That(r.Predictors[1], Is.Not.Null);
        Assert.That(r.Predictors[2], Is.Null);
        Assert.That(r.Predictors.OfflineLayers, Is.EqualTo(new[] { 1 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => s.Add(3, x, true)); // layer L−1 has no predictor
    }

    [Test]
    public void OfflineSelection_CountsFirstExitsAndCutsAtCoverage()
    {
        var sel = new OfflineLayerSelector(9); // predictor layers 0..7
        void Pos(params int[] verifiedLayers)
        {
            var f = new bool[8];
            foreach (int l in verifiedLayers) f[l] = true;
            sel.Add(f);
        }
        for (int i = 0; i < 5; i++) Pos(5, 6, 7);   // exits at 5 (6 and 7 would also pass; first counts)
        for (int i = 0; i < 3; i++) Pos(3, 5);      // exits at 3
        for (int i = 0; i < 2; i++) Pos(7);         // exits at 7
        Pos(1);                                     // exits at 1 (ties 7? no: 1 exit)
        Pos(6);                                     // exits at 6
        Pos();                                      // no exit
        Assert.That(sel.ExitCounts.ToArray(), Is.EqualTo(new long[] { 0, 1, 0, 3, 0, 5, 1, 2 }));
        Assert.That(sel.Exits, Is.EqualTo(12));
        Assert.That(sel.Positions, Is.EqualTo(13));

        // ranked 5 (5), 3 (3), 7 (2), then 1 and 6 tie at 1 → earlier layer first
        Assert.That(sel.Select(coverage: 8 / 12.0).Layers, Is.EqualTo(new[] { 3, 5 }));
        Assert.That(sel.Select(coverage: 0.8).Layers, Is.EqualTo(new[] { 3, 5, 7 }));        // 10/12 ≥ 0.8
        Assert.That(sel.Select(coverage: 11 / 12.0).Layers, Is.EqualTo(new[] { 1, 3, 5, 7 }));
        Assert.That(sel.Select(coverage: 1).Layers, Is.EqualTo(new[] { 1, 3, 5, 6, 7 }));
        var top2 = sel.Select(coverage: 1, maxLayers: 2);
        Assert.That(top2.Layers, Is.EqualTo(new[] { 3, 5 }));
        Assert.That(top2.Coverage, Is.EqualTo(8 / 12.0));
    }

    [Test]
    public void BatchGradient_MatchesFiniteDifferencesOfMeanBce()
    {
        // hidden 9 (one SIMD chunk plus a scalar tail on any vector width ≤ 8), 3 rows
        const int h = 9;
        var mlp = new MlpTrainingState(h, new DeterministicRng(5));
        var rng = new Random(3);
        float[] x = Enumerable.Range(0, 3 * 12).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        bool[] y = [true, false, true];
        int[] rows = [0, 1, 2];
        double loss = mlp.AccumulateBatch(x, y, rows);
        float[] grad = (float[])mlp.Gradients.Clone();
        double[] w = mlp.Parameters.Select(v => (double)v).ToArray();

        // independent double-precision forward over the flat layout [W1ᵀ (12·h) | b1 | W2 | b2]
        double MeanBce(double[] q)
        {
            double sum = 0;
            for (int r = 0; r < 3; r++)
            {
                double logit = q[12 * h + 2 * h];
                for (int j = 0; j < h; j++)
                {
                    double pre = q[12 * h + j];
                    for (int k = 0; k < 12; k++) pre += q[k * h + j] * x[r * 12 + k];
                    logit += q[12 * h + h + j] * Math.Max(pre, 0);
                }
                double p = 1 / (1 + Math.Exp(-logit));
                sum += -(y[r] ? Math.Log(p) : Math.Log(1 - p));
            }
            return sum / 3;
        }
        Assert.That(loss / 3, Is.EqualTo(MeanBce(w)).Within(1e-5));
        for (int i = 0; i < w.Length; i++)
        {
            const double eps = 1e-4;
            double keep = w[i];
            w[i] = keep + eps; double up = MeanBce(w);
            w[i] = keep - eps; double down = MeanBce(w);
            w[i] = keep;
            Assert.That(grad[i], Is.EqualTo((up - down) / (2 * eps)).Within(1e-4), $"parameter {i}");
        }
    }
}
