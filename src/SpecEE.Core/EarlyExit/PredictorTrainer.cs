namespace SpecEE.Core.EarlyExit;

/// <summary>Hyper-parameters of predictor training. Defaults are SpecEE's (AutoEE <c>Classifier/train.py</c>).</summary>
public sealed record PredictorTrainingOptions
{
    /// <summary>MLP hidden width (SpecEE: 512).</summary>
    public int Hidden { get; init; } = ExitPredictor.DefaultHidden;
    /// <summary>Passes over the training split (SpecEE: 100).</summary>
    public int Epochs { get; init; } = 100;
    /// <summary>Mini-batch size (SpecEE: 1024); the last batch of an epoch may be smaller.</summary>
    public int BatchSize { get; init; } = 1024;
    /// <summary>Adam step size (SpecEE: 1e-3).</summary>
    public float LearningRate { get; init; } = 1e-3f;
    /// <summary>Adam β1.</summary>
    public float Beta1 { get; init; } = 0.9f;
    /// <summary>Adam β2.</summary>
    public float Beta2 { get; init; } = 0.999f;
    /// <summary>Adam ε.</summary>
    public float Epsilon { get; init; } = 1e-8f;
    /// <summary>Share of each layer's rows held out for the accuracy report (SpecEE: 0.2).</summary>
    public double TestFraction { get; init; } = 0.2;
    /// <summary>Seed of the split, the initialisation and the batch order; layer ℓ uses a stream derived from it.</summary>
    public ulong Seed { get; init; } = 1;
    /// <summary>Layers trained at once (each layer is single-threaded, so results do not depend on this); 0 = all cores.</summary>
    public int MaxParallelLayers { get; init; } = 0;
}

/// <summary>Per-layer outcome of training. Accuracies use the 0.5 threshold (as SpecEE's script's round()).</summary>
public sealed record LayerTrainingReport(int Layer, int TrainRows, int TestRows, double PositiveRate,
    double TrainLoss, double TrainAccuracy, double TestAccuracy, double TestPrecision, double TestRecall);

/// <summary>Progress of a training run: <paramref name="Fraction"/> of all epochs of all layers done.</summary>
public sealed record PredictorTrainingProgress(int Layer, int Epoch, int Epochs, int LayersDone, int LayersTotal, double Fraction);

/// <summary>The trained set (offline set = every trained layer until <see cref="OfflineLayerSelector"/> picks one) and the reports.</summary>
public sealed record PredictorTrainingResult(PredictorSet Predictors, IReadOnlyList<LayerTrainingReport> Reports);

/// <summary>
/// Trains one exit predictor per layer as SpecEE does: MLP 12→hidden→1, binary cross-entropy on the sigmoid output,
/// Adam, mini-batches, a seeded random 80/20 split. Deterministic for a seed: our own RNG, and every layer is
/// trained by one thread in a fixed order (layers run in parallel, but they share nothing).
/// </summary>
public static class PredictorTrainer
{
    /// <summary>Trains predictors for every layer 0..L−2 that has at least 2 rows; layers with fewer get none.</summary>
    public static PredictorTrainingResult Train(PredictorSamples samples, PredictorTrainingOptions? options = null,
        Action<PredictorTrainingProgress>? progress = null, CancellationToken cancel = default)
    {
        var o = options ?? new PredictorTrainingOptions();
        Validate(o);
        int l = samples.NLayers;
        int[] layers = Enumerable.Range(0, l - 1).Where(x => samples.Count(x) >= 2).ToArray();
        var predictors = new ExitPredictor?[l - 1];
        var reports = new LayerTrainingReport?[l - 1];

        long totalEpochs = (long)layers.Length * o.Epochs, doneEpochs = 0;
        int layersDone = 0;
        var gate = new object();
        var po = new ParallelOptions
        {
            MaxDegreeOfParallelism = o.MaxParallelLayers > 0 ? o.MaxParallelLayers : Environment.ProcessorCount,
            CancellationToken = cancel,
        };
        Parallel.ForEach(layers, po, layer =>
        {
            var (x, y) = samples.Layer(layer);
            var (p, report) = TrainLayer(layer, x, y, o, epoch =>
            {
                cancel.ThrowIfCancellationRequested();
                if (progress == null) return;
                lock (gate)
                {
                    doneEpochs++;
                    if (epoch == o.Epochs) layersDone++;
                    progress(new PredictorTrainingProgress(layer, epoch, o.Epochs, layersDone, layers.Length,
                        totalEpochs == 0 ? 1 : (double)doneEpochs / totalEpochs));
                }
            });
            predictors[layer] = p;
            reports[layer] = report;
        });
        var set = new PredictorSet(l, predictors, offlineLayers: null);
        return new PredictorTrainingResult(set, reports.Where(r => r != null).Select(r => r!).ToArray());
    }

    /// <summary>
    /// Trains a single predictor on rows <paramref name="features"/> [n·12] with labels [n]; the seed stream is
    /// derived from (options.Seed, layer). <paramref name="onEpoch"/> gets the 1-based epoch just finished.
    /// </summary>
    public static (ExitPredictor Predictor, LayerTrainingReport Report) TrainLayer(int layer, float[] features, bool[] labels,
        PredictorTrainingOptions options, Action<int>? onEpoch = null)
    {
        Validate(options);
        int n = labels.Length;
        if (features.Length != n * ExitPredictor.InputSize)
            throw new ArgumentException($"layer {layer}: {features.Length} feature values for {n} labels (expected {n}×{ExitPredictor.InputSize})");
        if (n < 2) throw new ArgumentException($"layer {layer}: need at least 2 rows to split, got {n}");

        var rng = new DeterministicRng(DeterministicRng.Derive(options.Seed, (ulong)layer));
        // Split: shuffle row indices, the first ceil(n·f) are held out (sklearn's train_test_split rounding).
        int[] order = Enumerable.Range(0, n).ToArray();
        rng.Shuffle(order);
        int nTest = Math.Clamp((int)Math.Ceiling(n * options.TestFraction), 1, n - 1);
        int[] test = order[..nTest], train = order[nTest..];

        var mlp = new MlpTrainingState(options.Hidden, rng);
        var adam = new AdamState(mlp.ParameterCount, options);
        double lastLoss = 0;
        for (int epoch = 1; epoch <= options.Epochs; epoch++)
        {
            rng.Shuffle(train);
            double lossSum = 0;
            for (int start = 0; start < train.Length; start += options.BatchSize)
            {
                int count = Math.Min(options.BatchSize, train.Length - start);
                lossSum += mlp.AccumulateBatch(features, labels, train.AsSpan(start, count));
                adam.Step(mlp.Parameters, mlp.Gradients);
            }
            lastLoss = lossSum / train.Length;
            onEpoch?.Invoke(epoch);
        }

        var predictor = mlp.ToPredictor();
        var (trainAcc, _, _) = Evaluate(predictor, features, labels, train);
        var (testAcc, precision, recall) = Evaluate(predictor, features, labels, test);
        double positives = labels.Count(b => b) / (double)n;
        var report = new LayerTrainingReport(layer, train.Length, test.Length, positives, lastLoss, trainAcc, testAcc, precision, recall);
        return (predictor, report);
    }

    /// <summary>Accuracy, precision and recall of pred &gt; 0.5 on the given rows (precision/recall NaN when undefined).</summary>
    private static (double Accuracy, double Precision, double Recall) Evaluate(ExitPredictor p, float[] x, bool[] y, int[] rows)
    {
        int tp = 0, fp = 0, tn = 0, fn = 0;
        foreach (int r in rows)
        {
            bool fired = p.Logit(x.AsSpan(r * ExitPredictor.InputSize, ExitPredictor.InputSize)) > 0f;
            if (fired && y[r]) tp++; else if (fired) fp++; else if (y[r]) fn++; else tn++;
        }
        return ((tp + tn) / (double)rows.Length,
                tp + fp == 0 ? double.NaN : tp / (double)(tp + fp),
                tp + fn == 0 ? double.NaN : tp / (double)(tp + fn));
    }

    private static void Validate(PredictorTrainingOptions o)
    {
        if (o.Hidden < 1) throw new InvalidRequestException($"predictor hidden width must be ≥ 1, got {o.Hidden}");
        if (o.Epochs < 1) throw new InvalidRequestException($"epochs must be ≥ 1, got {o.Epochs}");
        if (o.BatchSize < 1) throw new InvalidRequestException($"batch size must be ≥ 1, got {o.BatchSize}");
        if (!(o.LearningRate > 0)) throw new InvalidRequestException($"learning rate must be > 0, got {o.LearningRate}");
        if (!(o.TestFraction > 0 && o.TestFraction < 1)) throw new InvalidRequestException($"test fraction must be in (0, 1), got {o.TestFraction}");
        if (!(o.Beta1 >= 0 && o.Beta1 < 1 && o.Beta2 >= 0 && o.Beta2 < 1 && o.Epsilon > 0))
            throw new InvalidRequestException("Adam needs 0 ≤ β1, β2 < 1 and ε > 0");
    }
}
