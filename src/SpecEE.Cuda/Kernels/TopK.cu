// TopK.cu — the 4 largest logits' ids on the device: EAGLE's draft candidates for the next SpecEE step, written
// where the exit predictor reads them, so drafting needs no host round trip.
//
// top4_f32: ids[0..3] = the indices of the 4 largest logits, largest first; equal values rank the lower index
// first (SpecEE.Cpu EagleHead.TopK's rule). NaN counts as −inf (ranks below every number, lower index first among
// equals), which only matters for logits that are already broken.
// Shapes: ids [4] int32, logits [n] f32, n ≥ 4.
// Launch: ONE block of `threads` (a multiple of 32, ≤ 1024; the launcher picks ≈ n/16, at least 32).
// Four rounds of a block argmax, each skipping the ids already chosen: thread t scans i = t, t + threads, ...
// keeping the best (value, index) under the total order "larger value, then lower index", so the result does not
// depend on the scan or reduction order; a warp butterfly, then warp 0 combines the per-warp winners.
#include "specee_prelude.cuh"

static __device__ __forceinline__ float neg_inf() { return __int_as_float((int)0xff800000u); }

// (v, i) ranks above (bv, bi): larger value, or the same value at a lower index.
static __device__ __forceinline__ bool ranks_above(float v, int i, float bv, int bi)
{
    return v > bv || (v == bv && i < bi);
}

static __device__ __forceinline__ void warp_best(float& v, int& i)
{
#pragma unroll
    for (int offset = 16; offset > 0; offset >>= 1) {
        const float ov = __shfl_xor_sync(0xffffffffu, v, offset);
        const int oi = __shfl_xor_sync(0xffffffffu, i, offset);
        if (ranks_above(ov, oi, v, i)) { v = ov; i = oi; }
    }
}

extern "C" __global__ void __launch_bounds__(1024) top4_f32(int* __restrict__ ids, const float* __restrict__ logits, int n)
{
    __shared__ float warpValue[32];
    __shared__ int warpIndex[32];
    __shared__ int chosen[4];
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;

    for (int round = 0; round < 4; round++) {
        // Starts below every candidate: −inf with an index no element has.
        float bv = neg_inf();
        int bi = 0x7fffffff;
        for (int i = tid; i < n; i += blockDim.x) {
            bool taken = false;
            for (int k = 0; k < round; k++) taken = taken || chosen[k] == i;
            if (taken) continue;
            float v = logits[i];
            if (v != v) v = neg_inf(); // NaN
            if (ranks_above(v, i, bv, bi)) { bv = v; bi = i; }
        }
        warp_best(bv, bi);
        if (lane == 0) { warpValue[warp] = bv; warpIndex[warp] = bi; }
        __syncthreads();
        if (warp == 0) {
            const int warps = blockDim.x >> 5;
            bv = lane < warps ? warpValue[lane] : neg_inf();
            bi = lane < warps ? warpIndex[lane] : 0x7fffffff;
            warp_best(bv, bi);
            if (lane == 0) chosen[round] = bi;
        }
        __syncthreads();
    }
    if (tid < 4) ids[tid] = chosen[tid];
}
