// RmsNorm.cu — RMSNorm of one or more rows (attention norm, FFN norm, final norm).
//
// rmsnorm_f32, for row r < rows (one block each) and i < dim:
//   y[r, i] = (x[r, i] · s) · w[i],   s = 1 / sqrt(Σ_j x[r, j]² / dim + eps)
// written exactly as SpecEE.Cpu's CpuKernels.RmsNorm (true division and square root, not rsqrtf, and two
// separate roundings x·s then ·w), so only the order of the sum of squares differs from the CPU.
// Shapes: y [rows, dim] f32 (may be x itself: each thread reads x[i] before writing y[i]), x [rows, dim] f32,
// w [dim] f32 (norm weights stay fp32 for both weight dtypes).
// Launch: grid = rows, block 256 (RmsNormKernel.BlockSize; any multiple of 32 up to 1024 works).
// Accumulation: fp32; thread t sums x[t], x[t+256], ... with fmaf; warp butterfly; then every thread adds the
// per-warp sums from shared memory in warp order (fixed order: bit-stable run to run, no atomics).
#include "specee_prelude.cuh"

extern "C" __global__ void __launch_bounds__(1024) rmsnorm_f32(float* y, const float* x,
                                                               const float* __restrict__ w, int dim, float eps)
{
    __shared__ float warpSums[32];
    const float* xr = x + (long long)blockIdx.x * dim;
    float* yr = y + (long long)blockIdx.x * dim;

    float ss = 0.0f;
    for (int i = threadIdx.x; i < dim; i += blockDim.x) {
        const float v = xr[i];
        ss = fmaf(v, v, ss);
    }
    for (int offset = 16; offset > 0; offset >>= 1)
        ss += __shfl_xor_sync(0xffffffffu, ss, offset);
    if ((threadIdx.x & 31) == 0) warpSums[threadIdx.x >> 5] = ss;
    __syncthreads();

    float total = 0.0f;
    const int warps = (blockDim.x + 31) >> 5;
    for (int k = 0; k < warps; k++) total += warpSums[k];
    const float scale = 1.0f / sqrtf(total / (float)dim + eps);

    for (int i = threadIdx.x; i < dim; i += blockDim.x)
        yr[i] = __fmul_rn(__fmul_rn(xr[i], scale), w[i]);
}
