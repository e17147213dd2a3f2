// SelfTest.cu — a small kernel that touches what every other kernel relies on, so a device (GPU or the
// cudasim CPU model) can be checked end to end before real work: fp16 conversion, 128-bit vector loads,
// a warp butterfly reduction and __half2 packing.
//
// selftest_f16, for n a multiple of 32, i < n, warp w = i / 32:
//   rounded[i] = half(x[i])                                                   (round to nearest even)
//   out[w]     = Σ_{i in warp w} ( float(rounded[i]) + v[i].x + v[i].y + v[i].z + v[i].w + (k[i].x − k[i].w) )
//   pair[w]    = ( half(out[w]), half(−out[w]) )
// If pair[w] does not read back through __half22float2 / __low2float / __high2float consistently,
// out[w] = −1e30 instead (a visible failure).
// Shapes: out [n/32] f32, rounded [n] f16, pair [n/32] half2, x [n] f32, v [n] float4, k [n] int4.
// Launch: 1D, one thread per element, block a multiple of 32 (launcher uses 128), grid = n / block rounded up.
// Accumulation: fp32, butterfly order (lane l adds lane l^16, l^8, ..., l^1).
#include "specee_prelude.cuh"

extern "C" __global__ void selftest_f16(float* __restrict__ out, __half* __restrict__ rounded,
                                        __half2* __restrict__ pair, const float* __restrict__ x,
                                        const float4* __restrict__ v, const int4* __restrict__ k, int n)
{
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    float acc = 0.0f;
    if (i < n) {
        const __half h = __float2half(x[i]);
        rounded[i] = h;
        const float4 q = v[i];
        const int4 c = k[i];
        acc = __half2float(h) + q.x + q.y + q.z + q.w + (float)(c.x - c.w);
    }
    for (int offset = 16; offset > 0; offset >>= 1)
        acc += __shfl_xor_sync(0xffffffffu, acc, offset);
    if ((threadIdx.x & 31) == 0 && i < n) {
        const int w = i >> 5;
        const __half2 packed = __floats2half2_rn(acc, -acc);
        pair[w] = packed;
        const float2 back = __half22float2(packed);
        out[w] = (back.x == __low2float(packed) && back.y == __high2float(packed)) ? acc : -1.0e30f;
    }
}
