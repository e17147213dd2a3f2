namespace SpecEE.Core.EarlyExit;

/// <summary>
/// The SpecEE decision logic of one generation stream, for a backend's layer loop to drive (host-side; a device
/// backend keeps the same state on the device and mirrors <see cref="Schedule"/> from the exits it reads back).
/// <code>
/// policy.BeginStep(candidates);                               // EAGLE's top-4 for the token this step outputs
/// for ℓ in 0..L−1:
///     run layer ℓ
///     if ℓ &lt; L−1 and policy.IsScheduled(ℓ):
///         h̃ = finalNorm(h); z = W_lm[candidates]·h̃
///         if policy.PredictorFires(ℓ, z) and policy.Verify(argmax(W_lm·h̃)): emit it; exit = ℓ; break
/// policy.EndStep(exit)                                         // L−1 when no exit; updates the schedule
/// </code>
/// Prefill calls <see cref="RecordPrefill"/> (the official history counts it as a non-exit).
/// </summary>
public sealed class ExitPolicy
{
    private readonly ExitFeatures _features = new();
    private readonly float[] _x = new float[ExitFeatures.FeatureCount];
    private readonly int[] _candidates = new int[ExitFeatures.CandidateCount];
    private bool _inStep;

    /// <summary>The predictors and offline set.</summary>
    public PredictorSet Predictors { get; }
    /// <summary>The two-level schedule (history of this session).</summary>
    public ExitSchedule Schedule { get; }
    /// <summary>Counters since construction or <see cref="ExitStatistics.Reset"/>.</summary>
    public ExitStatistics Statistics { get; }

    /// <summary>Decoder layers L.</summary>
    public int NLayers => Predictors.NLayers;

    /// <summary>The current step's candidate ids.</summary>
    public ReadOnlySpan<int> Candidates => _candidates;

    /// <summary>Features of the last <see cref="PredictorFires"/> call [12] (for logging and training data).</summary>
    public ReadOnlySpan<float> LastFeatures => _x;

    /// <param name="predictors">predictors, offline set and threshold</param>
    public ExitPolicy(PredictorSet predictors)
    {
        Predictors = predictors ?? throw new ArgumentNullException(nameof(predictors));
        Schedule = ExitSchedule.For(predictors);
        Statistics = new ExitStatistics(predictors.NLayers);
    }

    /// <summary>Starts a generation session: empties the exit history (statistics are kept).</summary>
    public void BeginSession()
    {
        Schedule.Reset();
        _inStep = false;
    }

    /// <summary>The prompt's forward: one history entry, as a non-exit (L−1).</summary>
    public void RecordPrefill() => Schedule.Record(NLayers - 1);

    /// <summary>Starts a decode step with EAGLE's 4 candidate ids for the token it will output.</summary>
    public void BeginStep(ReadOnlySpan<int> candidates)
    {
        if (candidates.Length != ExitFeatures.CandidateCount)
            throw new ArgumentException($"expected {ExitFeatures.CandidateCount} candidates, got {candidates.Length}", nameof(candidates));
        candidates.CopyTo(_candidates);
        _features.Reset();
        _inStep = true;
    }

    /// <summary>Whether a predictor runs after <paramref name="layer"/> in this step.</summary>
    public bool IsScheduled(int layer) => Schedule.IsScheduled(layer);

    /// <summary>
    /// At a scheduled layer: builds the 12 features from the candidate logits z (advancing the step's pPrev) and
    /// runs the layer's predictor. True when it fires; the caller then computes the full logits and calls
    /// <see cref="Verify"/>.
    /// </summary>
    public bool PredictorFires(int layer, ReadOnlySpan<float> candidateLogits)
    {
        if (!_inStep) throw new InvalidOperationException("BeginStep must be called before PredictorFires");
        var p = Predictors[layer] ?? throw new InvalidOperationException($"layer {layer} has no predictor (check IsScheduled first)");
        _features.Compute(candidateLogits, _x);
        Statistics.CountRun();
        bool fired = p.Fires(_x, Predictors.Threshold);
        if (fired) Statistics.CountFire();
        return fired;
    }

    /// <summary>After a fire: exit iff the layer's full-vocabulary argmax is one of the candidates.</summary>
    public bool Verify(int layerArgmax)
    {
        bool ok = ExitRule.ShouldExit(true, layerArgmax, _candidates);
        if (!ok) Statistics.CountRejection();
        return ok;
    }

    /// <summary>Ends the step: <paramref name="exitLayer"/> is the last layer that ran (L−1 when none exited).</summary>
    public void EndStep(int exitLayer)
    {
        if (!_inStep) throw new InvalidOperationException("EndStep without BeginStep");
        Schedule.Record(exitLayer);
        Statistics.CountStep(exitLayer);
        _inStep = false;
    }
}
