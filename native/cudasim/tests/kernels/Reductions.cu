// Sample kernels for the simulator tests: barriers, dynamic shared memory, warp collectives.
#include "specee_prelude.cuh"

__device__ __forceinline__ float warp_sum(float v) {
    for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_xor_sync(0xffffffffu, v, offset);
    return v;
}

// partial[block] = sum of x[block·blockDim .. +blockDim), tree reduction in dynamic shared memory.
// blockDim.x must be a power of two; sharedBytes = blockDim.x · 4.
extern "C" __global__ void block_reduce_sum_f32(float* __restrict__ partial, const float* __restrict__ x, int n) {
    extern __shared__ float cache[];
    const unsigned t = threadIdx.x;
    const unsigned i = blockIdx.x * blockDim.x + t;
    cache[t] = i < static_cast<unsigned>(n) ? x[i] : 0.0f;
    __syncthreads();
    for (unsigned stride = blockDim.x / 2; stride > 0; stride >>= 1) {
        if (t < stride) cache[t] += cache[t + stride];
        __syncthreads();
    }
    if (t == 0) partial[blockIdx.x] = cache[0];
}

// One sum per warp: out[global warp id] = sum of the warp's 32 elements (butterfly with __shfl_xor_sync).
extern "C" __global__ void warp_reduce_sum_f32(float* __restrict__ out, const float* __restrict__ x) {
    const unsigned i = blockIdx.x * blockDim.x + threadIdx.x;
    const float total = warp_sum(x[i]);
    if ((threadIdx.x & 31) == 0) out[i / 32] = total;
}

// Each shuffle flavour on int data, 7 results per thread:
// out[7i+0] shfl(src), +1 shfl width 8, +2 up(delta) width 16, +3 down(delta) width 8,
// +4 xor(laneMask) width 32, +5 xor(laneMask) width 8, +6 down(delta) on lanes 0..15 only (mask 0xffff)
// (lanes 16..31 write -1 there).
extern "C" __global__ void shuffle_variants(int* out, const int* in, int src, unsigned delta, int laneMask) {
    const unsigned i = blockIdx.x * blockDim.x + threadIdx.x;
    const int v = in[i];
    out[7 * i + 0] = __shfl_sync(0xffffffffu, v, src);
    out[7 * i + 1] = __shfl_sync(0xffffffffu, v, src, 8);
    out[7 * i + 2] = __shfl_up_sync(0xffffffffu, v, delta, 16);
    out[7 * i + 3] = __shfl_down_sync(0xffffffffu, v, delta, 8);
    out[7 * i + 4] = __shfl_xor_sync(0xffffffffu, v, laneMask);
    out[7 * i + 5] = __shfl_xor_sync(0xffffffffu, v, laneMask, 8);
    out[7 * i + 6] = (threadIdx.x & 31) < 16 ? __shfl_down_sync(0x0000ffffu, v, delta, 16) : -1;
}

// Votes: out[3·warp+0] = ballot(in > 0), +1 = any(in > 0), +2 = all(in > 0) per warp;
// counts[block] = __syncthreads_count(in > 0), counts[gridDim.x + block] = __syncthreads_or(in > 0).
extern "C" __global__ void votes(unsigned* out, int* counts, const int* in) {
    const unsigned i = blockIdx.x * blockDim.x + threadIdx.x;
    const int p = in[i] > 0;
    const unsigned ballot = __ballot_sync(0xffffffffu, p);
    const int any = __any_sync(0xffffffffu, p);
    const int all = __all_sync(0xffffffffu, p);
    const int count = __syncthreads_count(p);
    const int orAll = __syncthreads_or(p);
    if ((threadIdx.x & 31) == 0) {
        out[3 * (i / 32) + 0] = ballot;
        out[3 * (i / 32) + 1] = static_cast<unsigned>(any);
        out[3 * (i / 32) + 2] = static_cast<unsigned>(all);
    }
    if (threadIdx.x == 0) {
        counts[blockIdx.x] = count;
        counts[gridDim.x + blockIdx.x] = orAll;
    }
}

// Deliberately broken: the upper half of each warp exits while the lower half shuffles with a full mask.
extern "C" __global__ void broken_shuffle(float* out) {
    const unsigned lane = threadIdx.x & 31;
    if (lane >= 16) return;
    out[threadIdx.x] = __shfl_xor_sync(0xffffffffu, 1.0f, 1);
}

// Scheduler cost probes: every thread passes `iterations` warp barriers (or block barriers), then
// out[global id] = iterations.
extern "C" __global__ void syncwarp_loop(int* out, int iterations) {
    for (int i = 0; i < iterations; ++i) __syncwarp();
    out[blockIdx.x * blockDim.x + threadIdx.x] = iterations;
}
extern "C" __global__ void syncthreads_loop(int* out, int iterations) {
    for (int i = 0; i < iterations; ++i) __syncthreads();
    out[blockIdx.x * blockDim.x + threadIdx.x] = iterations;
}

// Reads dynamic shared memory without writing it first (a bug the simulator makes visible):
// out[block·blockDim + t] = bits of word t of the block's dynamic shared memory; then writes it.
extern "C" __global__ void read_unwritten_shared(unsigned* out) {
    extern __shared__ unsigned scratch[];
    out[blockIdx.x * blockDim.x + threadIdx.x] = scratch[threadIdx.x];
    __syncthreads();
    scratch[threadIdx.x] = 12345u;
}
