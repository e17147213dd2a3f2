namespace SpecEE.Core.EarlyExit;

/// <summary>
/// Counters of one <see cref="ExitPolicy"/>: what performance engineers need to see where SpecEE's time goes
/// and what the paper leaves out (how often verification rejects a fired predictor).
/// </summary>
public sealed class ExitStatistics
{
    private readonly long[] _exitsAt; // [L] steps that ended after layer ℓ (L−1 = ran every layer)

    /// <summary>Decoder layers L.</summary>
    public int NLayers { get; }
    /// <summary>Decode steps finished (prefill not counted).</summary>
    public long Steps { get; private set; }
    /// <summary>Predictor evaluations (one per scheduled layer reached).</summary>
    public long PredictorRuns { get; private set; }
    /// <summary>Predictor evaluations above the threshold (each costs a full LM-head GEMV).</summary>
    public long Fires { get; private set; }
    /// <summary>Fires whose layer argmax was not among the candidates (wasted LM-head GEMVs).</summary>
    public long Rejections { get; private set; }
    /// <summary>Steps that exited before the last layer.</summary>
    public long EarlyExits { get; private set; }
    /// <summary>Σ layers executed over all steps.</summary>
    public long LayersExecuted { get; private set; }

    /// <summary>Steps whose last executed layer was ℓ (0-based; L−1 = no early exit).</summary>
    public ReadOnlySpan<long> ExitLayerHistogram => _exitsAt;

    /// <summary>Mean layers executed per step (L when nothing exits); NaN before the first step.</summary>
    public double AverageLayers => Steps == 0 ? double.NaN : LayersExecuted / (double)Steps;
    /// <summary>Share of fires that verification rejected; NaN before the first fire.</summary>
    public double RejectionRate => Fires == 0 ? double.NaN : Rejections / (double)Fires;
    /// <summary>Mean predictor evaluations per step.</summary>
    public double PredictorRunsPerStep => Steps == 0 ? double.NaN : PredictorRuns / (double)Steps;

    internal ExitStatistics(int nLayers)
    {
        NLayers = nLayers;
        _exitsAt = new long[nLayers];
    }

    internal void CountRun() => PredictorRuns++;
    internal void CountFire() => Fires++;
    internal void CountRejection() => Rejections++;

    internal void CountStep(int exitLayer)
    {
        Steps++;
        LayersExecuted += exitLayer + 1;
        _exitsAt[exitLayer]++;
        if (exitLayer < NLayers - 1) EarlyExits++;
    }

    /// <summary>Zeroes every counter.</summary>
    public void Reset()
    {
        Steps = PredictorRuns = Fires = Rejections = EarlyExits = LayersExecuted = 0;
        Array.Clear(_exitsAt);
    }

    /// <inheritdoc/>
    public override string ToString() =>
        $"steps {Steps}, avg layers {AverageLayers:F2}/{NLayers}, early exits {EarlyExits}, predictor runs/step {PredictorRunsPerStep:F2}, " +
        $"fires {Fires}, rejected {Rejections} ({RejectionRate:P1})";
}
