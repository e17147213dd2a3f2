// FillRandom.cu — deterministic pseudo-random fill of device memory, so benchmark weights of any size
// (Llama-2-7B shapes: 13.5 GB in fp16) are made on the device instead of generated on the host and copied.
//
// fill_uniform_{f16,f32}, for i < n:
//   u      = hash32(i_lo ^ hash32(i_hi ^ seed)) · 2^−32          ∈ [0, 1)   (i_lo/i_hi: the low/high 32 bits of i)
//   out[i] = offset + scale · (2u − 1)                              ∈ [offset − scale, offset + scale)
// hash32 is the "lowbias32" integer mix (two multiply-xorshift rounds): every bit of the index affects
// every bit of the output, so neighbouring elements are uncorrelated. Values depend only on (i, seed, scale,
// offset), never on the launch geometry, so the host can recompute any element (tests do).
// Shapes: out [n] f16 or f32.
// Launch: 1D grid-stride loop, 256 threads per block, grid = min(ceil(n / 256), 65535 · 4) (launcher).
// Accumulation: none (elementwise); the fp16 store rounds to nearest even.
#include "specee_prelude.cuh"

namespace {

__device__ __forceinline__ uint32_t lowbias32(uint32_t x)
{
    x ^= x >> 16;
    x *= 0x7feb352du;
    x ^= x >> 15;
    x *= 0x846ca68bu;
    x ^= x >> 16;
    return x;
}

__device__ __forceinline__ float uniform_at(long long i, uint32_t seed, float scale, float offset)
{
    const uint32_t lo = (uint32_t)(unsigned long long)i, hi = (uint32_t)((unsigned long long)i >> 32);
    const uint32_t h = lowbias32(lo ^ lowbias32(hi ^ seed));
    const float u = (float)(h >> 8) * (1.0f / 16777216.0f); // 24 bits: exact in fp32
    return offset + scale * (2.0f * u - 1.0f);
}

} // namespace

extern "C" __global__ void fill_uniform_f16(__half* __restrict__ out, long long n, uint32_t seed, float scale, float offset)
{
    const long long stride = (long long)gridDim.x * blockDim.x;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride)
        out[i] = __float2half(uniform_at(i, seed, scale, offset));
}

extern "C" __global__ void fill_uniform_f32(float* __restrict__ out, long long n, uint32_t seed, float scale, float offset)
{
    const long long stride = (long long)gridDim.x * blockDim.x;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride)
        out[i] = uniform_at(i, seed, scale, offset);
}
