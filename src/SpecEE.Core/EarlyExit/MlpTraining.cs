using System.Numerics;
using System.Numerics.Tensors;

namespace SpecEE.Core.EarlyExit;

/// <summary>
/// Parameters, gradients and the per-row forward/backward of one predictor MLP during training.
/// Flat layout (so Adam is one loop): [ W1ᵀ (12·H) | b1 (H) | W2 (H) | b2 (1) ], W1ᵀ being the transposed up
/// weight ([12][H]) so that each row is two passes over H in SIMD chunks (forward, then backward).
/// Every reduction runs in a fixed order on one thread: results are bit-identical for a seed on a given machine.
/// </summary>
internal sealed class MlpTrainingState
{
    private const int In = ExitPredictor.InputSize;
    private readonly int _h;
    private readonly int _b1, _w2, _b2; // offsets into the flat arrays
    private readonly float[] _pre; // scratch [H]: pre-activations of the current row

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
        _pre = new float[hidden];
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
        double loss = 0;
        Span<float> x = stackalloc float[In];
        foreach (int r in rows)
        {
            features.AsSpan(r * In, In).CopyTo(x);
            float logit = Forward(p, x);
            float y = labels[r] ? 1f : 0f;
            loss += MathF.Max(logit, 0f) - logit * y + MathF.Log(1f + MathF.Exp(-MathF.Abs(logit)));
            float dLogit = ExitPredictor.Sigmoid(logit) - y;
            g[_b2] += dLogit;
            Backward(p, g, x, dLogit);
        }
        TensorPrimitives.Multiply(Gradients, 1f / rows.Length, Gradients);
        return loss;
    }

    // pre = b1 + W1·x (kept for the backward pass); returns b2 + W2·ReLU(pre).
    // One pass over H in vector chunks: 12 FMAs per chunk with the accumulator in a register.
    private float Forward(ReadOnlySpan<float> p, ReadOnlySpan<float> x)
    {
        int h = _h, i = 0, w = Vector<float>.Count;
        var dot = Vector<float>.Zero;
        for (; i <= h - w; i += w)
        {
            var acc = new Vector<float>(p[(_b1 + i)..]);
            for (int k = 0; k < In; k++) acc = Vector.FusedMultiplyAdd(new Vector<float>(p[(k * h + i)..]), new Vector<float>(x[k]), acc);
            acc.CopyTo(_pre.AsSpan(i));
            dot = Vector.FusedMultiplyAdd(Vector.Max(acc, Vector<float>.Zero), new Vector<float>(p[(_w2 + i)..]), dot);
        }
        float sum = Vector.Sum(dot);
        for (; i < h; i++)
        {
            float a = p[_b1 + i];
            for (int k = 0; k < In; k++) a = MathF.FusedMultiplyAdd(p[k * h + i], x[k], a);
            _pre[i] = a;
            if (a > 0f) sum = MathF.FusedMultiplyAdd(a, p[_w2 + i], sum);
        }
        return p[_b2] + sum;
    }

    // With dA = dLogit·W2 where pre > 0 (ReLU'(0) = 0, as PyTorch):
    // gW2 += dLogit·ReLU(pre), gb1 += dA, gW1ᵀ[k] += x[k]·dA — one pass over H in vector chunks.
    private void Backward(ReadOnlySpan<float> p, Span<float> g, ReadOnlySpan<float> x, float dLogit)
    {
        int h = _h, i = 0, w = Vector<float>.Count;
        var vd = new Vector<float>(dLogit);
        for (; i <= h - w; i += w)
        {
            var pre = new Vector<float>(_pre.AsSpan(i));
            var act = Vector.Max(pre, Vector<float>.Zero);
            Vector.FusedMultiplyAdd(act, vd, new Vector<float>(g[(_w2 + i)..])).CopyTo(g[(_w2 + i)..]);
            var dA = Vector.ConditionalSelect(Vector.GreaterThan(pre, Vector<float>.Zero),
                new Vector<float>(p[(_w2 + i)..]) * vd, Vector<float>.Zero);
            (new Vector<float>(g[(_b1 + i)..]) + dA).CopyTo(g[(_b1 + i)..]);
            for (int k = 0; k < In; k++)
            {
                var gk = g[(k * h + i)..];
                Vector.FusedMultiplyAdd(dA, new Vector<float>(x[k]), new Vector<float>(gk)).CopyTo(gk);
            }
        }
        for (; i < h; i++)
        {
            float pre = _pre[i];
            if (pre <= 0f) continue;
            g[_w2 + i] = MathF.FusedMultiplyAdd(pre, dLogit, g[_w2 + i]);
            float dA = p[_w2 + i] * dLogit;
            g[_b1 + i] += dA;
            for (int k = 0; k < In; k++) g[k * h + i] = MathF.FusedMultiplyAdd(dA, x[k], g[k * h + i]);
        }
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
