using System.Numerics.Tensors;

namespace SpecEE.Core.SpecEE;

/// <summary>
/// One SpecEE exit predictor: <c>sigmoid(down · ReLU(up · x + upBias) + downBias)</c> on the 12 features
/// <c>[z0..z3, p0..p3, Δ0..Δ3]</c> (see <see cref="ExitFeatures"/>). SpecEE ships hidden = 512; any hidden
/// width is accepted so that design-space experiments (the paper's Fig. 8 sweep) load too.
/// Weights are fp32 here whatever the file held (F16 widens exactly).
/// </summary>
public sealed class ExitPredictor
{
    /// <summary>SpecEE's hidden width (2-layer MLP, hidden 512).</summary>
    public const int DefaultHidden = 512;

    /// <summary>Input width: the 12 exit features.</summary>
    public const int InputSize = ExitFeatures.FeatureCount;

    private readonly float[] _up;      // [hidden, 12] row-major, as stored in the file
    private readonly float[] _upBias;  // [hidden]
    private readonly float[] _down;    // [hidden]  (the file's [1, hidden])
    private readonly float _downBias;

    /// <summary>Hidden width of the MLP.</summary>
    public int Hidden { get; }

    /// <summary>First layer weights [hidden, 12], row-major.</summary>
    public ReadOnlySpan<float> UpWeight => _up;
    /// <summary>First layer bias [hidden].</summary>
    public ReadOnlySpan<float> UpBias => _upBias;
    /// <summary>Second layer weights [hidden] (stored as [1, hidden]).</summary>
    public ReadOnlySpan<float> DownWeight => _down;
    /// <summary>Second layer bias (stored as [1]).</summary>
    public float DownBias => _downBias;

    /// <summary>Wraps the given arrays (not copied). Shapes: up [hidden·12], upBias [hidden], down [hidden].</summary>
    public ExitPredictor(float[] upWeight, float[] upBias, float[] downWeight, float downBias)
    {
        ArgumentNullException.ThrowIfNull(upWeight);
        ArgumentNullException.ThrowIfNull(upBias);
        ArgumentNullException.ThrowIfNull(downWeight);
        Hidden = upBias.Length;
        if (Hidden == 0 || upWeight.Length != Hidden * InputSize || downWeight.Length != Hidden)
            throw new ArgumentException($"predictor shapes disagree: up {upWeight.Length} (expected {Hidden}×{InputSize}), " +
                $"upBias {upBias.Length}, down {downWeight.Length} (expected {Hidden})");
        _up = upWeight; _upBias = upBias; _down = downWeight; _downBias = downBias;
    }

    /// <summary>The pre-sigmoid output (a logit). <c>Probability(x) &gt; 0.5</c> iff <c>Logit(x) &gt; 0</c>.</summary>
    public float Logit(ReadOnlySpan<float> features)
    {
        if (features.Length != InputSize)
            throw new ArgumentException($"expected {InputSize} features, got {features.Length}", nameof(features));
        // Row-by-row dot products of [hidden, 12] with x: 12 MACs per hidden unit, then ReLU and the down dot.
        // fp32 accumulation throughout; the official HF path runs this in fp16, the PC path mixes f16 weights
        // with f32 accumulation like we do.
        float acc = _downBias;
        for (int h = 0; h < Hidden; h++)
        {
            float a = _upBias[h] + TensorPrimitives.Dot(_up.AsSpan(h * InputSize, InputSize), features);
            if (a > 0f) acc += _down[h] * a;
        }
        return acc;
    }

    /// <summary>sigmoid(<see cref="Logit"/>): the predicted probability that this layer's token is already final.</summary>
    public float Probability(ReadOnlySpan<float> features) => Sigmoid(Logit(features));

    /// <summary>True when the predicted probability exceeds <paramref name="threshold"/> (strictly, as in SpecEE: pred &gt; 0.5).</summary>
    public bool Fires(ReadOnlySpan<float> features, float threshold) => Probability(features) > threshold;

    /// <summary>Logistic function 1/(1+e^−x) in fp32.</summary>
    public static float Sigmoid(float x) => 1f / (1f + MathF.Exp(-x));
}
