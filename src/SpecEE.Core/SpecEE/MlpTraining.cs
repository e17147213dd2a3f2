using System.Numerics;
using System.Numerics.Tensors;

namespace SpecEE.Core.SpecEE;

/// <summary>
/// Parameters, gradients and the per-row forward/backward of one predictor MLP during training.
/// Flat layout (so Adam is one loop): [ W1ᵀ (12·H) | b1 (H) | W2 (H) | b2 (1) ], W1ᵀ being the transposed up
/// weight ([12][H]) so that the per-row work is 12 + 12 contiguous length-H vector FMAs.
/// Every reduction runs in a fixed order on one thread: results are bit-identical for a seed on a given machine.
/// </summary>
internal sealed class MlpTrainingState
{
    private const int In = ExitPredictor.InputSize;
    private readonly int _h;
    private readonly int _b1, _w2, _b2; // offsets into the flat arrays
    private readonly float[] _pre, _act, _dAct; // scratch [H]

    public float[] Parameters { get; }
    public float[] Gradients { get; }
    public int ParameterCount => Parameters.Length;

    /// <summary>PyTorch's default nn.Linear initialisation: weights and biases U(−1/√fan_in, 1/√fan_in).</summary>
    public MlpTrainingState(int hidden, DeterministicRng rng)
    {
        _h = hidden;
        _b1 = In * hidden; _w2 = _b1 + hidden; _b2 = _w2 + hidden;
        Parameters = new float[_b2 + 1];
        Gradients = new float[_b2 + 1];
        _pre = new float[hidden]; _act = new float[hidden]; _dAct = new float[hidden];
        float bound1 = 1f / MathF.Sqrt(In), bound2 = 1f / MathF.Sqrt(hidden);
        // Draw in the file's [H, 12] order so the init does not depend on our internal transpose.
        for (int h = 0; h < hidden; h++)
            for (int k = 0; k < In; k++) Parameters[k * hidden + h] = rng.NextFloat(-bound1, bound1);
        for (int h = 0; h < hidden; h++) Parameters[_b1 + h] = rng.NextFloat(-bound1, bound1);
        for (int h = 0; h < hidden; h++) Parameters[_w2 + h] = rng.NextFloat(-bound2, bound2);
        Parameters[_b2] = rng.NextFloat(-bound2, bound2);
    }

    /// <summary>
    /// Sets <see cref="Gradients"/> to the gradient of the mean BCE over the given rows and returns the summed loss.
    /// BCE(σ(x), y) is evaluated from the logit x in the stable form max(x,0) − x·y + log(1 + e^−|x|); its
    /// derivative in x is σ(x) − y.
    /// </summary>
    public double AccumulateBatch(float[] features, bool[] labels, ReadOnlySpan<int> rows)
    {
        Array.Clear(Gradients);
        var p = Parameters.AsSpan();
        var g = Gradients.AsSpan();
        var w2 = p.Slice(_w2, _h);
        var gb1 = g.Slice(_b1, _h);
        var gw2 = g.Slice(_w2, _h);
        double loss = 0;
        foreach (int r in rows)
        {
            var x = features.AsSpan(r * In, In);
            // forward: pre = b1 + W1·x ; act = ReLU(pre) ; logit = b2 + W2·act
            p.Slice(_b1, _h).CopyTo(_pre);
            for (int k = 0; k < In; k++)
                TensorPrimitives.MultiplyAdd(p.Slice(k * _h, _h), x[k], _pre, _pre);
            TensorPrimitives.Max(_pre, 0f, _act);
            float logit = p[_b2] + TensorPrimitives.Dot(w2, _act);
            float y = labels[r] ? 1f : 0f;
            loss += MathF.Max(logit, 0f) - logit * y + MathF.Log(1f + MathF.Exp(-MathF.Abs(logit)));

            // backward
            float dLogit = ExitPredictor.Sigmoid(logit) - y;
            g[_b2] += dLogit;
            TensorPrimitives.MultiplyAdd(_act, dLogit, gw2, gw2);
            MaskedScale(w2, dLogit, _pre, _dAct); // dAct = dLogit·W2 where pre > 0 (ReLU'(0) = 0, as PyTorch)
            TensorPrimitives.Add(gb1, _dAct, gb1);
            for (int k = 0; k < In; k++)
            {
                var gw1 = g.Slice(k * _h, _h);
                TensorPrimitives.MultiplyAdd(_dAct, x[k], gw1, gw1);
            }
        }
        TensorPrimitives.Multiply(Gradients, 1f / rows.Length, Gradients);
        return loss;
    }

    /// <summary>dst[i] = pre[i] &gt; 0 ? w[i]·s : 0.</summary>
    private static void MaskedScale(ReadOnlySpan<float> w, float s, ReadOnlySpan<float> pre, Span<float> dst)
    {
        int i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            var vs = new Vector<float>(s);
            for (; i <= w.Length - Vector<float>.Count; i += Vector<float>.Count)
            {
                var vp = new Vector<float>(pre[i..]);
                var v = new Vector<float>(w[i..]) * vs;
                Vector.ConditionalSelect(Vector.GreaterThan(vp, Vector<float>.Zero), v, Vector<float>.Zero).CopyTo(dst[i..]);
            }
        }
        for (; i < w.Length; i++) dst[i] = pre[i] > 0f ? w[i] * s : 0f;
    }

    /// <summary>The trained MLP in the file layout (up [H, 12]).</summary>
    public ExitPredictor ToPredictor()
    {
        var up = new float[_h * In];
        for (int h = 0; h < _h; h++)
            for (int k = 0; k < In; k++) up[h * In + k] = Parameters[k * _h + h];
        return new ExitPredictor(up, Parameters.AsSpan(_b1, _h).ToArray(), Parameters.AsSpan(_w2, _h).ToArray(), Parameters[_b2]);
    }
}

/// <summary>Adam (Kingma and Ba) with PyTorch's update form: w −= (lr / (1 − β1ᵗ)) · m / (√v / √(1 − β2ᵗ) + ε).</summary>
internal sealed class AdamState
{
    private readonly float[] _m, _v;
    private readonly float _lr, _beta1, _beta2, _eps;
    private int _t;

    public AdamState(int count, PredictorTrainingOptions o)
    {
        _m = new float[count]; _v = new float[count];
        _lr = o.LearningRate; _beta1 = o.Beta1; _beta2 = o.Beta2; _eps = o.Epsilon;
    }

    public void Step(float[] parameters, float[] gradients)
    {
        _t++;
        float bc1 = 1f - MathF.Pow(_beta1, _t);
        float sqrtBc2 = MathF.Sqrt(1f - MathF.Pow(_beta2, _t));
        float stepSize = _lr / bc1;
        for (int i = 0; i < parameters.Length; i++)
        {
            float grad = gradients[i];
            _m[i] = _beta1 * _m[i] + (1f - _beta1) * grad;
            _v[i] = _beta2 * _v[i] + (1f - _beta2) * grad * grad;
            parameters[i] -= stepSize * _m[i] / (MathF.Sqrt(_v[i]) / sqrtBc2 + _eps);
        }
    }
}
