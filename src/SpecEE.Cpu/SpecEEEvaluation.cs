using SpecEE.Core.EarlyExit;
using SpecEE.Core.Model;

namespace SpecEE.Cpu;

/// <summary>One SpecEE configuration to evaluate.</summary>
/// <param name="Threshold">predictor fire threshold (SpecEE: 0.5; above 1 nothing ever fires)</param>
/// <param name="KvPolicy">skipped-layer KV handling</param>
public sealed record SpecEEConfig(float Threshold, KvPolicy KvPolicy);

/// <summary>Forced-decoding figures of one SpecEE configuration against the dense model on the same sequences.</summary>
public sealed record SpecEEEvalResult
{
    /// <summary>The configuration evaluated.</summary>
    public required SpecEEConfig Config { get; init; }
    /// <summary>Scored positions (Σ sequence length − 1).</summary>
    public required long Tokens { get; init; }
    /// <summary>Sequences (blank-line chunks, BOS first).</summary>
    public required int Sequences { get; init; }
    /// <summary>Decoder layers L.</summary>
    public required int NLayers { get; init; }
    /// <summary>Dense mean NLL per scored token, nats.</summary>
    public required double DenseNll { get; init; }
    /// <summary>SpecEE mean NLL per scored token (the exit layer's logits where it exited), nats.</summary>
    public required double SpecEENll { get; init; }
    /// <summary>Share of scored positions where SpecEE emitted the dense model's greedy token.</summary>
    public required double Agreement { get; init; }
    /// <summary>Share of positions where the dense greedy token is the text's next token.</summary>
    public required double DenseAccuracy { get; init; }
    /// <summary>Share of positions where SpecEE's token is the text's next token.</summary>
    public required double SpecEEAccuracy { get; init; }
    /// <summary>Mean layers run per scored position; position 0 of each sequence is the dense prefill (L layers).</summary>
    public required double AverageLayers { get; init; }
    /// <summary>Mean layers run per decode step (position 0 of each sequence excluded).</summary>
    public required double AverageLayersDecode { get; init; }
    /// <summary>[L] scored positions whose last run layer was ℓ (L−1 = no early exit; prefill positions included).</summary>
    public required long[] ExitHistogram { get; init; }
    /// <summary>Predictor evaluations.</summary>
    public required long PredictorRuns { get; init; }
    /// <summary>Predictor evaluations above the threshold (each costs a full LM-head GEMV).</summary>
    public required long PredictorFired { get; init; }
    /// <summary>Fires whose layer argmax was not among EAGLE's 4 candidates.</summary>
    public required long VerifyRejected { get; init; }
    /// <summary>Decode steps that exited early.</summary>
    public required long EarlyExits { get; init; }
    /// <summary>Among early exits, those whose token differs from dense greedy at that position.</summary>
    public required long WrongExits { get; init; }
    /// <summary>SpecEE NLL over dense NLL.</summary>
    public double NllRatio => SpecEENll / DenseNll;
}

/// <summary>
/// SpecEE's forced-decoding evaluation on the CPU: every sequence is fed token by token through the real SpecEE step
/// (predictors, verification, two-level schedule and the skipped-layer KV all live), and compared position by
/// position with the dense model run the same way. Each configuration and the dense pass use their own single-threaded
/// engine, so configurations run in parallel and the results do not depend on the thread count.
/// </summary>
public static class SpecEEEvaluation
{
    /// <summary>Dense forced pass: per sequence, the dense greedy token and NLL at every scored position.</summary>
    public static SpecEEScore[] Dense(LlamaModel model, EagleWeights eagle, IReadOnlyList<int[]> sequences) =>
        Pass(model, eagle, null, null, sequences);

    /// <summary>Evaluates each configuration (in parallel, up to <paramref name="parallelism"/> at once) against <paramref name="dense"/>.</summary>
    public static SpecEEEvalResult[] Run(LlamaModel model, EagleWeights eagle, PredictorSet predictors, IReadOnlyList<SpecEEConfig> configs,
        IReadOnlyList<int[]> sequences, SpecEEScore[] dense, int parallelism = 0, Action<int>? onConfigDone = null)
    {
        var results = new SpecEEEvalResult[configs.Count];
        int done = 0;
        Parallel.For(0, configs.Count, new ParallelOptions { MaxDegreeOfParallelism = parallelism > 0 ? parallelism : Environment.ProcessorCount }, i =>
        {
            var set = predictors.WithOfflineLayers(predictors.OfflineLayers, predictors.OfflineOrigin);
            set.Threshold = configs[i].Threshold;
            var policy = new ExitPolicy(set);
            var scores = Pass(model, eagle, policy, configs[i].KvPolicy, sequences);
            results[i] = Summarise(configs[i], model.Config.NLayers, sequences, dense, scores, policy.Statistics);
            onConfigDone?.Invoke(Interlocked.Increment(ref done));
        });
        return results;
    }

    private static SpecEEScore[] Pass(LlamaModel model, EagleWeights eagle, ExitPolicy? policy, KvPolicy? kv, IReadOnlyList<int[]> sequences)
    {
        int maxLen = sequences.Max(s => s.Length);
        using var llama = new CpuLlama(model, maxSeq: maxLen, threads: 1);
        var engine = new CpuSpecEE(llama, model, new EagleHead(eagle, model, maxLen), policy) { KvPolicy = kv ?? KvPolicy.Mask };
        return sequences.Select(s => engine.Score(s)).ToArray();
    }

    private static SpecEEEvalResult Summarise(SpecEEConfig config, int L, IReadOnlyList<int[]> sequences, SpecEEScore[] dense,
        SpecEEScore[] spec, ExitStatistics stats)
    {
        long tokens = 0, agree = 0, denseCorrect = 0, specCorrect = 0, layers = 0, decodeLayers = 0, decodeSteps = 0, wrong = 0;
        double denseNll = 0, specNll = 0;
        var hist = new long[L];
        for (int s = 0; s < sequences.Count; s++)
        {
            var d = dense[s];
            var e = spec[s];
            int[] text = sequences[s];
            for (int i = 0; i < e.Outputs.Length; i++)
            {
                tokens++;
                bool same = e.Outputs[i] == d.Outputs[i];
                if (same) agree++;
                if (d.Outputs[i] == text[i + 1]) denseCorrect++;
                if (e.Outputs[i] == text[i + 1]) specCorrect++;
                int exit = e.ExitLayers[i];
                hist[exit]++;
                layers += exit + 1;
                if (i > 0) { decodeLayers += exit + 1; decodeSteps++; }
                if (exit < L - 1 && !same) wrong++;
                denseNll += d.Nlls[i];
                specNll += e.Nlls[i];
            }
        }
        return new SpecEEEvalResult
        {
            Config = config, Tokens = tokens, Sequences = sequences.Count, NLayers = L,
            DenseNll = denseNll / tokens, SpecEENll = specNll / tokens, Agreement = agree / (double)tokens,
            DenseAccuracy = denseCorrect / (double)tokens, SpecEEAccuracy = specCorrect / (double)tokens,
            AverageLayers = layers / (double)tokens,
            AverageLayersDecode = decodeSteps == 0 ? L : decodeLayers / (double)decodeSteps,
            ExitHistogram = hist, PredictorRuns = stats.PredictorRuns, PredictorFired = stats.Fires,
            VerifyRejected = stats.Rejections, EarlyExits = stats.EarlyExits, WrongExits = wrong,
        };
    }

    /// <summary>
    /// Dense teacher-forced collection of predictor training data over <paramref name="sequences"/>
    /// (<see cref="CpuSpecEE.CollectForced"/>), split over up to <paramref name="parallelism"/> single-threaded engines.
    /// Each sequence starts from a clean state and results are merged in sequence order, so the data is identical
    /// whatever the parallelism. <paramref name="onSequenceDone"/> gets the number of steps of each finished sequence.
    /// </summary>
    public static ExitTrainingData Collect(LlamaModel model, EagleWeights eagle, IReadOnlyList<int[]> sequences, int parallelism = 0,
        Action<int>? onSequenceDone = null, CancellationToken cancel = default)
    {
        int L = model.Config.NLayers, maxLen = sequences.Max(s => s.Length);
        var parts = new ExitTrainingData[sequences.Count];
        int workers = Math.Max(1, Math.Min(parallelism > 0 ? parallelism : Environment.ProcessorCount, sequences.Count));
        Parallel.For(0, workers, new ParallelOptions { MaxDegreeOfParallelism = workers, CancellationToken = cancel }, w =>
        {
            using var llama = new CpuLlama(model, maxSeq: maxLen, threads: 1);
            var engine = new CpuSpecEE(llama, model, new EagleHead(eagle, model, maxLen), null);
            for (int s = w; s < sequences.Count; s += workers)
            {
                cancel.ThrowIfCancellationRequested();
                parts[s] = new ExitTrainingData(L);
                engine.CollectForced(sequences[s], parts[s]);
                onSequenceDone?.Invoke(parts[s].Steps);
            }
        });
        var all = new ExitTrainingData(L);
        foreach (var part in parts) all.Append(part);
        return all;
    }
}
