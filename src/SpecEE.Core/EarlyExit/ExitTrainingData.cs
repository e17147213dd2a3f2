using System.Globalization;
using SpecEE.Core.Formats;

namespace SpecEE.Core.EarlyExit;

/// <summary>
/// What a dense run with EAGLE records per decode step to train predictors and pick the offline set, without
/// running the model again: the 4 candidates, for every layer ℓ in 0..L−2 the candidate logits z_ℓ from the
/// final-normed h_ℓ and the full-vocabulary argmax of that normed state, and the token the full model output.
/// <para>
/// <see cref="ToSamples"/> makes training rows as SpecEE's collection script does: Δ against the immediately
/// previous layer (every layer "scheduled"), label = (argmax at ℓ == final token). <see cref="CountExits"/> replays
/// the same steps with every trained predictor active to count where tokens would exit (fired and verified),
/// for <see cref="OfflineLayerSelector"/>; it uses the dense trajectory, an approximation of a run that really
/// exits (later tokens can differ once an exit changes the KV cache), which keeps the offline pass free.
/// </para>
/// Saved as safetensors (F32 tensors; ids are stored as F32, exact below 2^24, so any vocabulary ≤ 16M).
/// </summary>
public sealed class ExitTrainingData
{
    private const int C = ExitFeatures.CandidateCount;
    private readonly List<float> _z = [];       // [steps, L−1, 4]
    private readonly List<int> _argmax = [];    // [steps, L−1]
    private readonly List<int> _candidates = []; // [steps, 4]
    private readonly List<int> _final = [];     // [steps]

    /// <summary>Decoder layers L.</summary>
    public int NLayers { get; }

    /// <summary>Decode steps recorded.</summary>
    public int Steps => _final.Count;

    /// <param name="nLayers">L ≥ 2</param>
    public ExitTrainingData(int nLayers)
    {
        if (nLayers < 2) throw new ArgumentOutOfRangeException(nameof(nLayers), $"need at least 2 layers, got {nLayers}");
        NLayers = nLayers;
    }

    /// <summary>Records one dense decode step.</summary>
    /// <param name="candidates">EAGLE's 4 candidate ids for this step's output token</param>
    /// <param name="candidateLogits">[L−1, 4]: z at layers 0..L−2</param>
    /// <param name="layerArgmax">[L−1]: argmax of LM head · finalNorm(h_ℓ)</param>
    /// <param name="finalToken">the token the full model emitted</param>
    public void AddStep(ReadOnlySpan<int> candidates, ReadOnlySpan<float> candidateLogits, ReadOnlySpan<int> layerArgmax, int finalToken)
    {
        int n = NLayers - 1;
        if (candidates.Length != C || candidateLogits.Length != n * C || layerArgmax.Length != n)
            throw new ArgumentException($"expected {C} candidates, {n}×{C} candidate logits and {n} layer argmaxes; got " +
                $"{candidates.Length}, {candidateLogits.Length} and {layerArgmax.Length}");
        foreach (float z in candidateLogits)
            if (!float.IsFinite(z)) throw new ArgumentException($"non-finite candidate logit {z}", nameof(candidateLogits));
        _candidates.AddRange(candidates);
        _z.AddRange(candidateLogits);
        _argmax.AddRange(layerArgmax);
        _final.Add(finalToken);
    }

    /// <summary>The 4 candidates recorded for <paramref name="step"/>.</summary>
    public ReadOnlySpan<int> Candidates(int step) => System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_candidates).Slice(step * C, C);

    /// <summary>Full-vocabulary argmax after each layer 0..L−2 at <paramref name="step"/>.</summary>
    public ReadOnlySpan<int> LayerArgmax(int step) =>
        System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_argmax).Slice(step * (NLayers - 1), NLayers - 1);

    /// <summary>The token the full model output at <paramref name="step"/>.</summary>
    public int FinalToken(int step) => _final[step];

    /// <summary>Training rows for every layer 0..L−2 (Δ against the previous layer; label = layer argmax is final).</summary>
    public PredictorSamples ToSamples()
    {
        var samples = new PredictorSamples(NLayers);
        var f = new ExitFeatures();
        var x = new float[ExitFeatures.FeatureCount];
        int n = NLayers - 1;
        for (int s = 0; s < Steps; s++)
        {
            f.Reset();
            for (int l = 0; l < n; l++)
            {
                f.Compute(Z(s, l), x);
                samples.Add(l, x, _argmax[s * n + l] == _final[s]);
            }
        }
        return samples;
    }

    /// <summary>Replays every step with all of <paramref name="predictors"/>' layers active and counts exits.</summary>
    public OfflineLayerSelector CountExits(PredictorSet predictors)
    {
        if (predictors.NLayers != NLayers)
            throw new InvalidRequestException($"predictors are for {predictors.NLayers} layers, the data for {NLayers}");
        var selector = new OfflineLayerSelector(NLayers);
        var f = new ExitFeatures();
        var x = new float[ExitFeatures.FeatureCount];
        int n = NLayers - 1;
        var flags = new bool[n];
        for (int s = 0; s < Steps; s++)
        {
            f.Reset();
            var cands = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_candidates).Slice(s * C, C);
            for (int l = 0; l < n; l++)
            {
                var p = predictors[l];
                flags[l] = false;
                if (p == null) continue; // a layer without predictor is not scheduled, so it does not move pPrev
                f.Compute(Z(s, l), x);
                flags[l] = ExitRule.ShouldExit(p.Fires(x, predictors.Threshold), _argmax[s * n + l], cands);
            }
            selector.Add(flags);
        }
        return selector;
    }

    private ReadOnlySpan<float> Z(int step, int layer) =>
        System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_z).Slice((step * (NLayers - 1) + layer) * C, C);

    /// <summary>Writes the data as safetensors: z [steps, L−1, 4], layer_argmax [steps, L−1], candidates [steps, 4], final [steps].</summary>
    public void Save(string path)
    {
        int n = NLayers - 1;
        var w = new SafetensorsWriter();
        w.Metadata["specee.n_layers"] = NLayers.ToString(CultureInfo.InvariantCulture);
        w.Metadata["specee.content"] = "exit predictor training data (ids stored as F32)";
        w.AddF32("z", _z.ToArray(), Steps, n, C);
        w.AddF32("layer_argmax", _argmax.Select(v => (float)v).ToArray(), Steps, n);
        w.AddF32("candidates", _candidates.Select(v => (float)v).ToArray(), Steps, C);
        w.AddF32("final", _final.Select(v => (float)v).ToArray(), Steps);
        w.Save(path);
    }

    /// <summary>Reads what <see cref="Save"/> wrote.</summary>
    public static ExitTrainingData Load(string path)
    {
        var file = SafetensorsFile.Open(path);
        if (!file.Metadata.TryGetValue("specee.n_layers", out string? lText) ||
            !int.TryParse(lText, NumberStyles.None, CultureInfo.InvariantCulture, out int l) || l < 2)
            throw new ModelFormatException($"{path}: not SpecEE training data (metadata specee.n_layers missing or invalid)");
        if (!file.Contains("final")) throw new ModelFormatException($"{path}: tensor 'final' is missing");
        var finalInfo = file.Info("final");
        if (finalInfo.Shape.Length != 1) throw new ModelFormatException($"{path}: tensor 'final' has shape {finalInfo.ShapeText}, expected [steps]");
        int steps = (int)finalInfo.Shape[0], n = l - 1;
        float[] z = file.ReadF32("z", steps, n, C);
        int[] Ids(string name, params long[] shape) => file.ReadF32(name, shape).Select(v =>
            v >= 0 && v < (1 << 24) && v == MathF.Floor(v) ? (int)v
                : throw new ModelFormatException($"{path}: tensor '{name}' holds {v}, not a token id")).ToArray();
        int[] argmax = Ids("layer_argmax", steps, n), cands = Ids("candidates", steps, C), final = Ids("final", steps);
        var data = new ExitTrainingData(l);
        for (int s = 0; s < steps; s++)
            data.AddStep(cands.AsSpan(s * C, C), z.AsSpan(s * n * C, n * C), argmax.AsSpan(s * n, n), final[s]);
        return data;
    }
}
