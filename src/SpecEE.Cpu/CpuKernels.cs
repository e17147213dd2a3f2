using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace SpecEE.Cpu;

/// <summary>
/// The fp32 building blocks of a Llama step on the CPU. Every routine accumulates in fp32 and is
/// deterministic: the summation order depends only on the shapes, never on threads or timing.
/// </summary>
/// <remarks>
/// The GEMV/GEMM inner loops are hand-written with <see cref="Vector256"/> FMA because the shapes here
/// are small (a 128-float row is 16 vectors): one call of <see cref="TensorPrimitives.Dot(ReadOnlySpan{float}, ReadOnlySpan{float})"/>
/// per row spends as long on call overhead and the horizontal sum as on the arithmetic. Processing four
/// rows per pass loads each x vector once for four FMAs and folds four horizontal sums into three
/// <c>vhaddps</c>. Vector512 is not used: the machines this targets (Zen 3) have no AVX-512, and on
/// those that do, 256-bit FMA on L2-resident rows is already load-bound.
/// </remarks>
internal static unsafe class CpuKernels
{
    /// <summary>True when the hand-vectorised paths can run (AVX2 + FMA).</summary>
    internal static readonly bool Simd = Avx2.IsSupported && Fma.IsSupported;

    /// <summary>dst = x / sqrt(mean(x²) + eps) ⊙ weight. <paramref name="dst"/> may alias <paramref name="x"/>.</summary>
    public static void RmsNorm(ReadOnlySpan<float> x, ReadOnlySpan<float> weight, float eps, Span<float> dst)
    {
        int n = x.Length;
        if (weight.Length < n || dst.Length < n) throw new ArgumentException($"RmsNorm needs weight and dst of at least {n} floats");
        fixed (float* px = x) fixed (float* pw = weight) fixed (float* pd = dst)
        {
            if (Simd && n % 8 == 0)
            {
                // Inline loops: for a 128-float row the three TensorPrimitives calls cost more than the math.
                var acc = Vector256<float>.Zero;
                for (int i = 0; i < n; i += 8) { var v = Avx.LoadVector256(px + i); acc = Fma.MultiplyAdd(v, v, acc); }
                var scale = Vector256.Create(1f / MathF.Sqrt(Vector256.Sum(acc) / n + eps));
                for (int i = 0; i < n; i += 8)
                    Avx.Store(pd + i, Avx.Multiply(Avx.Multiply(Avx.LoadVector256(px + i), scale), Avx.LoadVector256(pw + i)));
                return;
            }
            float ms = TensorPrimitives.SumOfSquares(x) / n;
            float s = 1f / MathF.Sqrt(ms + eps);
            TensorPrimitives.Multiply(x, s, dst);
            TensorPrimitives.Multiply(dst, weight[..n], dst);
        }
    }

    /// <summary>y[r] = Σ_c w[r, c]·x[c] (or y[r] += … when <paramref name="accumulate"/>), for rows [r0, r1). w is [rows, cols] row-major.</summary>
    public static void Gemv(ReadOnlySpan<float> w, ReadOnlySpan<float> x, Span<float> y, int cols, int r0, int r1, bool accumulate)
    {
        fixed (float* pw = w) fixed (float* px = x) fixed (float* py = y)
            Gemv(pw, px, py, cols, r0, r1, accumulate);
    }

    /// <summary>Pointer form of <see cref="Gemv(ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float}, int, int, int, bool)"/>; the caller guarantees the extents.</summary>
    public static void Gemv(float* w, float* x, float* y, int cols, int r0, int r1, bool accumulate)
    {
        int r = r0;
        if (Simd && cols % 8 == 0)
        {
            for (; r + 4 <= r1; r += 4)
            {
                float* w0 = w + (long)r * cols, w1 = w0 + cols, w2 = w1 + cols, w3 = w2 + cols;
                Vector256<float> a0 = Vector256<float>.Zero, a1 = a0, a2 = a0, a3 = a0;
                for (int c = 0; c < cols; c += 8)
                {
                    var xv = Avx.LoadVector256(x + c);
                    a0 = Fma.MultiplyAdd(Avx.LoadVector256(w0 + c), xv, a0);
                    a1 = Fma.MultiplyAdd(Avx.LoadVector256(w1 + c), xv, a1);
                    a2 = Fma.MultiplyAdd(Avx.LoadVector256(w2 + c), xv, a2);
                    a3 = Fma.MultiplyAdd(Avx.LoadVector256(w3 + c), xv, a3);
                }
                var s = Sum4(a0, a1, a2, a3);
                if (accumulate) s = Sse.Add(s, Sse.LoadVector128(y + r));
                Sse.Store(y + r, s);
            }
        }
        for (; r < r1; r++)
        {
            float d = TensorPrimitives.Dot(new ReadOnlySpan<float>(w + (long)r * cols, cols), new ReadOnlySpan<float>(x, cols));
            y[r] = accumulate ? y[r] + d : d;
        }
    }

    /// <summary>
    /// Batched GEMV for prefill: Y[t, r] = Σ_c W[r, c]·X[t, c] (+= when <paramref name="accumulate"/>) for tokens
    /// t &lt; <paramref name="tokens"/> and rows [r0, r1). X is [tokens, cols], Y is [tokens, yStride].
    /// A block of 4 weight rows (4·cols floats, L1-resident) is reused across every token, so the weights
    /// stream from memory once per prompt chunk instead of once per token.
    /// </summary>
    public static void Gemm(float* w, float* x, float* y, int tokens, int cols, int yStride, int r0, int r1, bool accumulate)
    {
        int r = r0;
        if (Simd && cols % 8 == 0)
        {
            for (; r + 4 <= r1; r += 4)
            {
                float* w0 = w + (long)r * cols, w1 = w0 + cols, w2 = w1 + cols, w3 = w2 + cols;
                int t = 0;
                for (; t + 2 <= tokens; t += 2)
                {
                    float* xa = x + (long)t * cols, xb = xa + cols;
                    Vector256<float> a0 = Vector256<float>.Zero, a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
                    for (int c = 0; c < cols; c += 8)
                    {
                        var v0 = Avx.LoadVector256(w0 + c);
                        var v1 = Avx.LoadVector256(w1 + c);
                        var v2 = Avx.LoadVector256(w2 + c);
                        var v3 = Avx.LoadVector256(w3 + c);
                        var xva = Avx.LoadVector256(xa + c);
                        a0 = Fma.MultiplyAdd(v0, xva, a0);
                        a1 = Fma.MultiplyAdd(v1, xva, a1);
                        a2 = Fma.MultiplyAdd(v2, xva, a2);
                        a3 = Fma.MultiplyAdd(v3, xva, a3);
                        var xvb = Avx.LoadVector256(xb + c);
                        b0 = Fma.MultiplyAdd(v0, xvb, b0);
                        b1 = Fma.MultiplyAdd(v1, xvb, b1);
                        b2 = Fma.MultiplyAdd(v2, xvb, b2);
                        b3 = Fma.MultiplyAdd(v3, xvb, b3);
                    }
                    StoreRow4(y + (long)t * yStride + r, Sum4(a0, a1, a2, a3), accumulate);
                    StoreRow4(y + (long)(t + 1) * yStride + r, Sum4(b0, b1, b2, b3), accumulate);
                }
                if (t < tokens) Gemv(w, x + (long)t * cols, y + (long)t * yStride, cols, r, r + 4, accumulate);
            }
        }
        if (r < r1)
            for (int t = 0; t < tokens; t++)
                Gemv(w, x + (long)t * cols, y + (long)t * yStride, cols, r, r1, accumulate);
    }

    /// <summary>
    /// In-place softmax with the maximum subtracted first. TensorPrimitives.SoftMax exponentiates the raw
    /// values, so an attention score above ~88 overflows exp() in fp32 and the whole row turns to NaN.
    /// </summary>
    public static void SoftMaxInPlace(Span<float> s)
    {
        float max = TensorPrimitives.Max(s);
        TensorPrimitives.Subtract(s, max, s);
        TensorPrimitives.SoftMax(s, s);
    }

    /// <summary>In place: gate[i] = silu(gate[i])·up[i], silu(g) = g·σ(g). <paramref name="scratch"/> is at least gate.Length.</summary>
    public static void SwiGlu(Span<float> gate, ReadOnlySpan<float> up, Span<float> scratch)
    {
        // σ goes through TensorPrimitives' vectorised exp; three streaming passes over an L1-sized vector.
        var s = scratch[..gate.Length];
        TensorPrimitives.Sigmoid(gate, s);
        TensorPrimitives.Multiply(s, gate, s);
        TensorPrimitives.Multiply(s, up, gate);
    }

    /// <summary>Dot product of two length-<paramref name="n"/> vectors; n a multiple of 8 on the SIMD path.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Dot(float* a, float* b, int n)
    {
        if (Simd && n % 8 == 0)
        {
            var acc = Vector256<float>.Zero;
            for (int i = 0; i < n; i += 8) acc = Fma.MultiplyAdd(Avx.LoadVector256(a + i), Avx.LoadVector256(b + i), acc);
            return Vector256.Sum(acc);
        }
        return TensorPrimitives.Dot(new ReadOnlySpan<float>(a, n), new ReadOnlySpan<float>(b, n));
    }

    /// <summary>acc[i] += p·v[i] for i &lt; n.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Axpy(float* acc, float p, float* v, int n)
    {
        if (Simd && n % 8 == 0)
        {
            var pv = Vector256.Create(p);
            for (int i = 0; i < n; i += 8)
                Avx.Store(acc + i, Fma.MultiplyAdd(pv, Avx.LoadVector256(v + i), Avx.LoadVector256(acc + i)));
            return;
        }
        var dst = new Span<float>(acc, n);
        TensorPrimitives.MultiplyAdd(new ReadOnlySpan<float>(v, n), p, dst, dst);
    }

    /// <summary>[Σa0, Σa1, Σa2, Σa3] from four 8-lane accumulators.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector128<float> Sum4(Vector256<float> a0, Vector256<float> a1, Vector256<float> a2, Vector256<float> a3)
    {
        var h01 = Avx.HorizontalAdd(a0, a1);   // [a0 01, a0 23, a1 01, a1 23 | same for upper lanes]
        var h23 = Avx.HorizontalAdd(a2, a3);
        var h = Avx.HorizontalAdd(h01, h23);   // [a0 0-3, a1 0-3, a2 0-3, a3 0-3 | upper 4-7]
        return Sse.Add(h.GetLower(), h.GetUpper());
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreRow4(float* dst, Vector128<float> s, bool accumulate)
    {
        if (accumulate) s = Sse.Add(s, Sse.LoadVector128(dst));
        Sse.Store(dst, s);
    }
}
