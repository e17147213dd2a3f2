// Compile-time parity check: the half-precision kernel that the C# PreludeTests also compile with NVRTC
// (they read this file: tests/SpecEE.Tests/Cuda/CudaTestSupport.cs, HalfApiSource). It must build here with
// -Wall -Wextra -Werror, so the simulator and the NVRTC prelude keep the same fp16 surface.
#include "specee_prelude.cuh"

// Touches every half intrinsic and operator the prelude promises (it must compile with no warnings).
extern "C" __global__ void half_api(float* __restrict__ out, __half* __restrict__ h, __half2* __restrict__ h2, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    __half a = h[i], b = __float2half(0.5f), c = __float2half_rn(-2.0f);
    __half d = __hfma(a, b, c) + __hadd(a, b) - __hsub(a, c) * __hmul(b, c) / __hdiv(a, b);
    d = __hmax(d, __hmin(a, -b));
    d += a;
    d *= b;
    __half e = __half(1.5f);
    __half f = __ushort_as_half(__half_as_ushort(e));
    __half g = __short_as_half(__half_as_short(f));
    bool cmp = (d == e) || (d != f) || (d < g) || (d > g) || (d <= g) || (d >= g) || __hisnan(d) || __hisinf(d) != 0;
    __half2 p = __floats2half2_rn(__half2float(d), cmp ? 1.0f : 0.0f);
    __half2 q = __hfma2(__hadd2(p, __float2half2_rn(2.0f)), __hmul2(p, __half2half2(g)), __hsub2(p, __halves2half2(a, b)));
    q = q + p * __float22half2_rn(make_float2(0.25f, 4.0f));
    float2 r = __half22float2(q);
    float s = static_cast<float>(__low2half(q)) + __low2float(q) + __high2float(q) + __half2float(__high2half(q));
    h2[i] = q;
    out[i] = r.x + r.y + s;
}

