using System.Diagnostics;
using System.Globalization;
using SpecEE.Core;
using SpecEE.Core.EarlyExit;
using SpecEE.Cpu;

namespace SpecEE.Cli;

/// <summary>
/// `specee train-predictors`: SpecEE's predictor recipe end to end on the CPU — dense + EAGLE teacher-forced over the
/// text's blank-line chunks (BOS each), one MLP per layer (BCE, Adam 1e-3, batch 1024, seeded 80/20 split), then the
/// offline layer set by exit frequency with every predictor active, written as safetensors with SpecEE's names.
/// </summary>
public static class TrainPredictorsCommand
{
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr)
    {
        var a = CommonOptions.Parse("train-predictors", args,
            ["--eagle", "--data", "--out", "--seed", "--epochs", "--max-tokens", "--coverage", "--max-offline", "--delta"], []);
        string data = a.String("--data") ?? throw new UsageException("train-predictors needs --data TEXT (a plain-text file)");
        string output = a.String("--out") ?? throw new UsageException("train-predictors needs --out FILE (.safetensors)");
        ulong seed = a.ULong("--seed", 1);
        int epochs = a.Int("--epochs", 100, 1, 100_000);
        int maxTokens = a.Int("--max-tokens", 30_000, 10, 100_000_000);
        float coverage = a.Float("--coverage", 0.8f, 0.01f, 1f);
        int maxOffline = a.Int("--max-offline", int.MaxValue, 0, int.MaxValue);
        bool scheduledDelta = a.Choice("--delta", false, ("previous", false), ("scheduled", true));
        if (!File.Exists(data)) throw new SpecEEException($"--data {data}: no such file");

        var total = Stopwatch.StartNew();
        string modelPath = ModelResolver.ModelPath(a);
        var model = ModelResolver.LoadModel(a, CommonOptions.DType(a));
        var tokenizer = ModelResolver.LoadTokenizer(a, modelPath);
        var eagle = ModelResolver.LoadEagle(a, modelPath, required: true)!;
        int threads = a.Int("--threads", 0, 0, 256);
        int L = model.Config.NLayers;

        var sequences = TextCorpus.Sequences(File.ReadAllText(data), t => tokenizer.Encode(t, addBos: true), maxTokens, model.Config.MaxSeq);
        long steps = sequences.Sum(s => Math.Max(0, s.Length - 2));
        stdout.WriteLine($"model     {model.SourcePath} ({model.Config.Describe()})");
        stdout.WriteLine($"data      {data}: {sequences.Count} chunks, {steps} decode steps (BOS + up to {model.Config.MaxSeq - 1} tokens each, ≤ {maxTokens} scored)");

        // 1. Dense + EAGLE, teacher-forced: per step the 4 candidates, z and the normed argmax after every layer.
        var bar = new ProgressBar(stderr, "collect");
        long collected = 0;
        var trainingData = SpecEEEvaluation.Collect(model, eagle, sequences, threads, n =>
            bar.Report(Interlocked.Add(ref collected, n) / (double)Math.Max(1, steps), $"{Interlocked.Read(ref collected)}/{steps} steps"));
        double collectSeconds = bar.Finish($"({trainingData.Steps} steps)");

        // 2. One predictor per layer 0..L−2, SpecEE's recipe (Δ against the previous layer, as SpecEE's script).
        var options = new PredictorTrainingOptions { Seed = seed, Epochs = epochs, MaxParallelLayers = threads };
        bar = new ProgressBar(stderr, "train");
        var result = PredictorTrainer.Train(trainingData.ToSamples(), options,
            p => bar.Report(p.Fraction, $"layers done {p.LayersDone}/{p.LayersTotal}"));
        double trainSeconds = bar.Finish();

        stdout.WriteLine();
        stdout.WriteLine($"held-out accuracy per layer (seed {seed}, {epochs} epochs, 80/20 split, pred > 0.5):");
        stdout.WriteLine("layer   rows  positive  train_acc  test_acc  precision  recall");
        foreach (var r in result.Reports)
            stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{r.Layer,5} {r.TrainRows + r.TestRows,6} {r.PositiveRate,9:F3} {r.TrainAccuracy,10:F4} {r.TestAccuracy,9:F4} {r.TestPrecision,10:F4} {r.TestRecall,7:F4}"));

        // 3. Offline set: exits per layer with every predictor active (fired and verified, first such layer), replayed
        // on the collected steps; the smallest top-frequency set covering `coverage` of the exits.
        var selector = trainingData.CountExits(result.Predictors);
        var selection = selector.Select(coverage, maxOffline);
        stdout.WriteLine();
        stdout.WriteLine($"exits with all {result.Predictors.Count} predictors active (threshold 0.5, verified): {selector.Exits} of {selector.Positions} steps");
        stdout.WriteLine("layer " + string.Join(" ", Enumerable.Range(0, L - 1).Select(l => $"{l,6}")));
        stdout.WriteLine("exits " + string.Join(" ", selector.ExitCounts.ToArray().Select(c => $"{c,6}")));
        string cap = maxOffline < int.MaxValue ? $" (at most {maxOffline})" : "";
        stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"offline set {{{string.Join(", ", selection.Layers)}}}: the fewest most-frequent exit layers covering ≥ {coverage:P0} of exits{cap} — covers {selection.Coverage:P1}"));

        var set = result.Predictors.WithOfflineLayers(selection.Layers);
        if (scheduledDelta)
        {
            // Not SpecEE's recipe (an option): retrain on rows whose Δ is against the previous scheduled layer, replaying
            // the collected steps with the first pass's predictors and offline set; the offline set is kept.
            bar = new ProgressBar(stderr, "retrain (Δ vs previous scheduled layer)");
            var second = PredictorTrainer.Train(trainingData.ToScheduledSamples(set), options,
                p => bar.Report(p.Fraction, $"layers done {p.LayersDone}/{p.LayersTotal}"));
            trainSeconds += bar.Finish();
            stdout.WriteLine();
            stdout.WriteLine("second pass (Δ vs previous scheduled layer), held-out accuracy per layer:");
            foreach (var r in second.Reports)
                stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{r.Layer,5} {r.TrainRows + r.TestRows,6} {r.PositiveRate,9:F3} {r.TrainAccuracy,10:F4} {r.TestAccuracy,9:F4} {r.TestPrecision,10:F4} {r.TestRecall,7:F4}"));
            var kept = selection.Layers.Where(l => second.Predictors[l] != null).ToArray();
            set = second.Predictors.WithOfflineLayers(kept);
        }
        string? dir = Path.GetDirectoryName(Path.GetFullPath(output));
        if (dir != null) Directory.CreateDirectory(dir);
        PredictorSetFile.Write(output, set);
        stdout.WriteLine($"wrote     {output}");
        stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"time      collect {collectSeconds:F1}s, train {trainSeconds:F1}s, total {total.Elapsed.TotalSeconds:F1}s"));
        return 0;
    }
}
