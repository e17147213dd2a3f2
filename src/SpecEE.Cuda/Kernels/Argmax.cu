// Argmax.cu — selecting ids by logit on the device, so a decode step needs no host round trip: the greedy token
// (written to the step-state block's NextToken field) and EAGLE's 4 draft candidates (read by the exit predictor).
//
// argmax_f32: token[0] = the lowest i with logits[i] = max_j logits[j], over values > −inf (NaN never
// wins); 0 when no value is > −inf. Exactly SpecEE.Core.Sampling.Sampler.Argmax's rule.
// Shapes: token [1] int32, logits [n] f32.
// Launch: ONE block of `threads` (a multiple of 32, ≤ 1024; the launcher picks ≈ n/16, at least 32).
// Two-pass block reduction, fixed order: (1) thread t scans the contiguous slice [t·chunk, (t+1)·chunk) in
// index order, strict > so the first of equal values stays; (2) (value, index) pairs meet in a butterfly
// per warp, then warp 0 combines the per-warp winners. The combine is a total order — larger value first,
// then lower index — so the result does not depend on the reduction tree and ties go to the lowest index.
//
// top4_f32: ids[0..3] = the indices of the 4 largest logits, largest first; equal values rank the lower index
// first (SpecEE.Cpu EagleHead.TopK's rule). NaN counts as −inf (ranks below every number, lower index first among
// equals), which only matters for logits that are already broken.
// Shapes: ids [4] int32, logits [n] f32, n ≥ 4. Launch: as argmax_f32.
// Four rounds of the same block reduction, each skipping the ids already chosen; thread t scans i = t, t + threads,
// ... (any order gives the same winner under the total order).
#include "specee_prelude.cuh"

// −inf by its bits (the NVRTC prelude has no CUDART_INF_F).
static __device__ __forceinline__ float neg_inf() { return __int_as_float((int)0xff800000u); }

// (v, i) beats (bv, bi): larger value, or the same value at a lower index.
static __device__ __forceinline__ bool beats(float v, int i, float bv, int bi)
{
    return v > bv || (v == bv && i < bi);
}

static __device__ __forceinline__ void warp_argmax(float& v, int& i)
{
#pragma unroll
    for (int offset = 16; offset > 0; offset >>= 1) {
        const float ov = __shfl_xor_sync(0xffffffffu, v, offset);
        const int oi = __shfl_xor_sync(0xffffffffu, i, offset);
        if (beats(ov, oi, v, i)) { v = ov; i = oi; }
    }
}

extern "C" __global__ void __launch_bounds__(1024) argmax_f32(int* __restrict__ token, const float* __restrict__ logits, int n)
{
    __shared__ float warpValue[32];
    __shared__ int warpIndex[32];
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    const int chunk = (n + blockDim.x - 1) / blockDim.x;
    const int lo = min(n, tid * chunk), hi = min(n, lo + chunk);

    // −inf with an index no element has: loses to every candidate, and only candidates (> −inf) count.
    float bv = neg_inf();
    int bi = 0x7fffffff;
    for (int i = lo; i < hi; i++) {
        const float v = logits[i];
        if (v > bv) { bv = v; bi = i; }
    }
    warp_argmax(bv, bi);
    if (lane == 0) { warpValue[warp] = bv; warpIndex[warp] = bi; }
    __syncthreads();
    if (warp == 0) {
        const int warps = blockDim.x >> 5;
        bv = lane < warps ? warpValue[lane] : neg_inf();
        bi = lane < warps ? warpIndex[lane] : 0x7fffffff;
        warp_argmax(bv, bi);
        if (lane == 0) token[0] = bi == 0x7fffffff ? 0 : bi;
    }
}

extern "C" __global__ void __launch_bounds__(1024) top4_f32(int* __restrict__ ids, const float* __restrict__ logits, int n)
{
    __shared__ float warpValue[32];
    __shared__ int warpIndex[32];
    __shared__ int chosen[4];
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;

    for (int round = 0; round < 4; round++) {
        float bv = neg_inf();
        int bi = 0x7fffffff; // below every candidate: −inf with an index no element has
        for (int i = tid; i < n; i += blockDim.x) {
            bool taken = false;
            for (int k = 0; k < round; k++) taken = taken || chosen[k] == i;
            if (taken) continue;
            float v = logits[i];
            if (v != v) v = neg_inf(); // NaN
            if (beats(v, i, bv, bi)) { bv = v; bi = i; }
        }
        warp_argmax(bv, bi);
        if (lane == 0) { warpValue[warp] = bv; warpIndex[warp] = bi; }
        __syncthreads();
        if (warp == 0) {
            const int warps = blockDim.x >> 5;
            bv = lane < warps ? warpValue[lane] : neg_inf();
            bi = lane < warps ? warpIndex[lane] : 0x7fffffff;
            warp_argmax(bv, bi);
            if (lane == 0) chosen[round] = bi;
        }
        __syncthreads();
    }
    if (tid < 4) ids[tid] = chosen[tid];
}
