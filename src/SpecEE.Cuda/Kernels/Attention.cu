// Attention.cu — decode attention of one query token over the KV cache: split-KV flash-decoding.
//
// attention_f32, block (h, s) for query head h < nHeads and split s < nSplits (grid.y), with pos = *posPtr,
// seqLen = pos + 1, chunk = max(minSplitLen, ceil(seqLen / nSplits)), positions [s·chunk, min(seqLen, (s+1)·chunk)),
// kv head g = h / (nHeads / nKvHeads) (GQA), and visible(t) = (t == pos || depth[t] > layer) (skipped-layer mask:
// a token that exited after depth[t] layers wrote no K/V for layer ≥ depth[t]):
//   score_t = (q_h · K[layer, t, g]) · (1 / sqrt(headDim))            for visible t in the split
//   m = max_t score_t,  l = Σ_t exp(score_t − m),  acc = Σ_t exp(score_t − m) · V[layer, t, g]
//   partial[h, s] = (acc[0..headDim), m, l);  a split with no visible position writes (0…, −inf, 0).
// attention_combine_f32, block h:
//   M = max_s m_s over splits with l_s > 0,  out[h, d] = Σ_s e^(m_s−M)·acc_s[d] / Σ_s e^(m_s−M)·l_s
// Shapes: partial [nHeads, nSplits, headDim + 2] f32, q/out [nHeads·headDim] f32, keys/values [nLayers, maxSeq,
// kvDim] f32, depth [maxSeq] int32 (dense decode: nLayers everywhere), posPtr → int32 in the step-state block.
// Chunks depend on pos only, so a graph captured once serves every step; splits past seqLen return at once.
// Launch (attention_f32): grid (nHeads, nSplits), block 128, dynamic shared 4·(128/L)·(headDim + 4) bytes;
// headDim % 4 == 0, headDim ≤ 256. A lane group of L = min(32, pow2ceil(headDim/4)) lanes shares one position
// (each lane a float4 slice of q, K, V; two slices per lane when headDim > 128). The 128/L groups of the block
// take positions round-robin, four per iteration with all their K/V loads in flight, each with its own online
// softmax (m, l, acc); the groups are merged through shared memory in group order.
// Launch (attention_combine_f32): grid nHeads, block 128.
// Batched (prefill): grid.z of attention_f32 / grid.y of combine = nTok query tokens, token z with pos = posPtr[z],
// q/out rows z·nHeads·headDim and partial [nTok, nHeads, nSplits, headDim + 2]; decode is nTok = 1. The K/V of
// every token of the batch must be in the cache first (the causal mask is pos itself: t ≤ posPtr[z]).
// Accumulation: fp32; dot products in slice order then a butterfly inside the group; merges in fixed order.
#include "specee_prelude.cuh"

namespace {

constexpr int kMaxSlices = 2; // float4 slices per lane: headDim ≤ 4 · 32 · kMaxSlices
constexpr int kInFlight = 4;  // positions per lane group per iteration (their loads overlap)

// −inf without CUDART_INF_F (the NVRTC prelude has no math_constants.h).
__device__ __forceinline__ float neg_inf() { return __int_as_float(0xff800000); }

// v·w + a per component (one weighted V row added to the accumulator).
__device__ __forceinline__ float4 fma4(float4 v, float w, float4 a)
{
    return make_float4(fmaf(v.x, w, a.x), fmaf(v.y, w, a.y), fmaf(v.z, w, a.z), fmaf(v.w, w, a.w));
}

} // namespace

extern "C" __global__ void __launch_bounds__(128) attention_f32(
    float* __restrict__ partial, const float* __restrict__ q, const float* __restrict__ keys,
    const float* __restrict__ values, const int* __restrict__ depth, const int* __restrict__ posPtr,
    int layer, int maxSeq, int nHeads, int nKvHeads, int headDim, int minSplitLen)
{
    extern __shared__ float merge[]; // [groups, headDim + 4]: each lane group's rescaled acc and l
    const int h = blockIdx.x, split = blockIdx.y, nSplits = gridDim.y, token = blockIdx.z;
    const int kvDim = nKvHeads * headDim, g = h / (nHeads / nKvHeads);
    const int stride = headDim + 2;
    float* __restrict__ out = partial + (((long long)token * nHeads + h) * nSplits + split) * stride;
    q += (long long)token * nHeads * headDim;

    const int pos = posPtr[token];
    const int seqLen = pos + 1;
    const int chunk = max(minSplitLen, (seqLen + nSplits - 1) / nSplits);
    const int start = split * chunk;
    const int end = min(seqLen, start + chunk);
    if (pos < 0 || pos >= maxSeq || start >= end) {
        // Nothing to attend to here (or an invalid pos): the neutral partial, which combine skips.
        for (int d = threadIdx.x; d < stride; d += blockDim.x)
            out[d] = d == headDim ? neg_inf() : 0.0f;
        return;
    }

    const int slicesPerHead = headDim / 4;
    int groupSize = 1;
    while (groupSize < slicesPerHead && groupSize < 32) groupSize <<= 1;
    const int groups = blockDim.x / groupSize;
    const int group = threadIdx.x / groupSize, glane = threadIdx.x % groupSize;
    const float scale = 1.0f / sqrtf((float)headDim);

    // This lane's slices of q (slice c = glane + j·groupSize covers elements 4c .. 4c+3).
    float4 qv[kMaxSlices], acc[kMaxSlices];
    const float4* __restrict__ q4 = reinterpret_cast<const float4*>(q + (long long)h * headDim);
#pragma unroll
    for (int j = 0; j < kMaxSlices; j++) {
        const int c = glane + j * groupSize;
        qv[j] = c < slicesPerHead ? q4[c] : make_float4(0.0f, 0.0f, 0.0f, 0.0f);
        acc[j] = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
    }
    float m = neg_inf(), l = 0.0f;

    const long long layerBase = (long long)layer * maxSeq * kvDim + (long long)g * headDim;
    const float4 zero4 = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
    // Each iteration a group takes kInFlight positions t0 + u·groups + group (u < kInFlight): all their K and V
    // loads are issued before any result is needed, so a lane has up to 2·kInFlight·kMaxSlices 16-byte loads in
    // flight. Every lane runs the same number of iterations (t0 is block-uniform), so the shuffles always see
    // the whole warp; positions past the split or masked out load nothing and contribute nothing.
    for (int t0 = start; t0 < end; t0 += groups * kInFlight) {
        bool visible[kInFlight];
        float4 kk[kInFlight][kMaxSlices], vv[kInFlight][kMaxSlices];
#pragma unroll
        for (int u = 0; u < kInFlight; u++) {
            const int t = t0 + u * groups + group;
            visible[u] = t < end && (t == pos || depth[t] > layer);
            const float4* __restrict__ k4 = reinterpret_cast<const float4*>(keys + layerBase + (long long)t * kvDim);
            const float4* __restrict__ v4 = reinterpret_cast<const float4*>(values + layerBase + (long long)t * kvDim);
#pragma unroll
            for (int j = 0; j < kMaxSlices; j++) {
                const int c = glane + j * groupSize;
                const bool load = visible[u] && c < slicesPerHead;
                kk[u][j] = load ? k4[c] : zero4;
                vv[u][j] = load ? v4[c] : zero4;
            }
        }
        float score[kInFlight];
#pragma unroll
        for (int u = 0; u < kInFlight; u++) {
            float dot = 0.0f;
#pragma unroll
            for (int j = 0; j < kMaxSlices; j++) {
                dot = fmaf(qv[j].x, kk[u][j].x, dot);
                dot = fmaf(qv[j].y, kk[u][j].y, dot);
                dot = fmaf(qv[j].z, kk[u][j].z, dot);
                dot = fmaf(qv[j].w, kk[u][j].w, dot);
            }
            score[u] = dot;
        }
        for (int offset = groupSize >> 1; offset > 0; offset >>= 1) {
#pragma unroll
            for (int u = 0; u < kInFlight; u++) score[u] += __shfl_xor_sync(0xffffffffu, score[u], offset);
        }

        // Online softmax over the visible ones: one rescale of (l, acc) per iteration.
        float mNew = m;
#pragma unroll
        for (int u = 0; u < kInFlight; u++) {
            score[u] *= scale;
            if (visible[u]) mNew = fmaxf(mNew, score[u]);
        }
        if (mNew == neg_inf()) continue; // nothing visible yet in this group
        const float correction = expf(m - mNew); // 0 while m is still −inf
        l *= correction;
#pragma unroll
        for (int j = 0; j < kMaxSlices; j++) acc[j] = make_float4(acc[j].x * correction, acc[j].y * correction,
                                                                  acc[j].z * correction, acc[j].w * correction);
#pragma unroll
        for (int u = 0; u < kInFlight; u++) {
            if (!visible[u]) continue;
            const float weight = expf(score[u] - mNew);
            l += weight;
#pragma unroll
            for (int j = 0; j < kMaxSlices; j++) acc[j] = fma4(vv[u][j], weight, acc[j]);
        }
        m = mNew;
    }

    // Merge the groups: the block maximum M first (butterfly across the groups of a warp, then the four warps
    // through shared memory); each group rescales its own (l, acc) by e^(m − M), and the sums over groups are
    // taken in group order.
    __shared__ float warpMax[4]; // blockDim.x / 32 (the launch is 128 threads)
    float mWarp = m;
    for (int offset = 16; offset >= groupSize; offset >>= 1)
        mWarp = fmaxf(mWarp, __shfl_xor_sync(0xffffffffu, mWarp, offset));
    if ((threadIdx.x & 31) == 0) warpMax[threadIdx.x >> 5] = mWarp;
    __syncthreads();
    float mMax = neg_inf();
    for (int k = 0; k < (blockDim.x >> 5); k++) mMax = fmaxf(mMax, warpMax[k]);
    const float factor = l > 0.0f ? expf(m - mMax) : 0.0f; // a group that saw nothing adds nothing

    const int shStride = headDim + 4; // [groups, headDim + 4]: acc·factor, then l·factor; rows 16-byte aligned
    float* mine = merge + group * shStride;
#pragma unroll
    for (int j = 0; j < kMaxSlices; j++) {
        const int c = glane + j * groupSize;
        if (c < slicesPerHead)
            reinterpret_cast<float4*>(mine)[c] =
                make_float4(acc[j].x * factor, acc[j].y * factor, acc[j].z * factor, acc[j].w * factor);
    }
    if (glane == 0) mine[headDim] = l * factor;
    __syncthreads();

    for (int d = threadIdx.x; d < stride; d += blockDim.x) {
        if (d == headDim) { out[d] = mMax; continue; } // −inf (with l = 0) when the mask hid the whole split
        const int column = d < headDim ? d : headDim;   // d = headDim + 1 is l, kept at column headDim
        float sum = 0.0f;
        for (int k = 0; k < groups; k++) sum += merge[k * shStride + column];
        out[d] = sum;
    }
}

extern "C" __global__ void __launch_bounds__(128) attention_combine_f32(
    float* __restrict__ out, const float* __restrict__ partial, int nSplits, int headDim)
{
    const int h = blockIdx.x, nHeads = gridDim.x, token = blockIdx.y, stride = headDim + 2;
    const float* __restrict__ parts = partial + ((long long)token * nHeads + h) * nSplits * stride;
    float mMax = neg_inf();
    for (int s = 0; s < nSplits; s++)
        if (parts[s * stride + headDim + 1] > 0.0f) mMax = fmaxf(mMax, parts[s * stride + headDim]);
    float den = 0.0f;
    for (int s = 0; s < nSplits; s++) {
        const float* p = parts + s * stride;
        if (p[headDim + 1] > 0.0f) den = fmaf(expf(p[headDim] - mMax), p[headDim + 1], den);
    }
    for (int d = threadIdx.x; d < headDim; d += blockDim.x) {
        float num = 0.0f;
        for (int s = 0; s < nSplits; s++) {
            const float* p = parts + s * stride;
            if (p[headDim + 1] > 0.0f) num = fmaf(expf(p[headDim] - mMax), p[d], num);
        }
        out[((long long)token * nHeads + h) * headDim + d] = num / den; // den > 0: position pos is always visible
    }
}
