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
// Launch (attention_f32): grid (nHeads, nSplits), block 128. headDim % 4 == 0, headDim ≤ 256. A lane group of
// L = min(32, pow2ceil(headDim/4)) lanes handles one position at a time (each lane a float4 slice of q, K, V;
// two slices per lane when headDim > 128); the 128/L groups of the block take positions t0+0, t0+1, ... in turn
// with their own online softmax (m, l, acc), merged through dynamic shared memory
// in group order (4·(128/L)·(headDim + 5) bytes). Launch (attention_combine_f32): grid nHeads, block 128.
// Accumulation: fp32; dot products in slice order then a butterfly inside the group; merges in fixed order.
#include "specee_prelude.cuh"

namespace {

constexpr int kMaxSlices = 2; // float4 slices per lane: headDim ≤ 4 · 32 · kMaxSlices

// −inf without CUDART_INF_F (the NVRTC prelude has no math_constants.h).
__device__ __forceinline__ float neg_inf() { return __int_as_float(0xff800000); }

// a·sa + b·sb per component (the online-softmax rescale of acc plus the new weighted V row).
__device__ __forceinline__ float4 axpby4(float4 a, float sa, float4 b, float sb)
{
    return make_float4(fmaf(b.x, sb, a.x * sa), fmaf(b.y, sb, a.y * sa), fmaf(b.z, sb, a.z * sa), fmaf(b.w, sb, a.w * sa));
}

} // namespace

extern "C" __global__ void __launch_bounds__(128) attention_f32(
    float* __restrict__ partial, const float* __restrict__ q, const float* __restrict__ keys,
    const float* __restrict__ values, const int* __restrict__ depth, const int* __restrict__ posPtr,
    int layer, int maxSeq, int nHeads, int nKvHeads, int headDim, int minSplitLen)
{
    extern __shared__ float merge[]; // [groups, headDim + 4] acc, m, l (, pad) per lane group; then [groups] factors
    const int h = blockIdx.x, split = blockIdx.y, nSplits = gridDim.y;
    const int kvDim = nKvHeads * headDim, g = h / (nHeads / nKvHeads);
    const int stride = headDim + 2;
    float* __restrict__ out = partial + ((long long)h * nSplits + split) * stride;

    const int pos = *posPtr;
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
    // Every lane runs the same number of iterations (t0 is block-uniform), so the shuffles below always
    // see the whole warp; positions past the split or masked out contribute nothing.
    for (int t0 = start; t0 < end; t0 += groups) {
        const int t = t0 + group;
        const bool visible = t < end && (t == pos || depth[t] > layer);
        const float4* __restrict__ k4 = reinterpret_cast<const float4*>(keys + layerBase + (long long)t * kvDim);
        float dot = 0.0f;
#pragma unroll
        for (int j = 0; j < kMaxSlices; j++) {
            const int c = glane + j * groupSize;
            if (visible && c < slicesPerHead) {
                const float4 k = k4[c];
                dot = fmaf(qv[j].x, k.x, dot);
                dot = fmaf(qv[j].y, k.y, dot);
                dot = fmaf(qv[j].z, k.z, dot);
                dot = fmaf(qv[j].w, k.w, dot);
            }
        }
        for (int offset = groupSize >> 1; offset > 0; offset >>= 1)
            dot += __shfl_xor_sync(0xffffffffu, dot, offset);
        if (!visible) continue;

        const float score = dot * scale;
        const float mNew = fmaxf(m, score);
        const float correction = expf(m - mNew); // 0 for the first visible position (m = −inf)
        const float weight = expf(score - mNew);
        l = fmaf(l, correction, weight);
        const float4* __restrict__ v4 = reinterpret_cast<const float4*>(values + layerBase + (long long)t * kvDim);
#pragma unroll
        for (int j = 0; j < kMaxSlices; j++) {
            const int c = glane + j * groupSize;
            if (c < slicesPerHead) acc[j] = axpby4(acc[j], correction, v4[c], weight);
        }
        m = mNew;
    }

    // Merge the groups' (m, l, acc) in group order.
    const int shStride = headDim + 4; // keeps every group's row 16-byte aligned for the float4 stores
    float* mine = merge + group * shStride;
    float* factor = merge + groups * shStride; // [groups]: e^(m_k − M), 0 for a group that saw nothing
#pragma unroll
    for (int j = 0; j < kMaxSlices; j++) {
        const int c = glane + j * groupSize;
        if (c < slicesPerHead) reinterpret_cast<float4*>(mine)[c] = acc[j];
    }
    if (glane == 0) { mine[headDim] = m; mine[headDim + 1] = l; }
    __syncthreads();

    float mMax = neg_inf();
    for (int k = 0; k < groups; k++) mMax = fmaxf(mMax, merge[k * shStride + headDim]);
    for (int k = threadIdx.x; k < groups; k += blockDim.x)
        factor[k] = merge[k * shStride + headDim + 1] > 0.0f ? expf(merge[k * shStride + headDim] - mMax) : 0.0f;
    __syncthreads();

    for (int d = threadIdx.x; d < stride; d += blockDim.x) {
        if (d == headDim) { out[d] = mMax; continue; } // −inf (with l = 0) when the mask hid the whole split
        float sum = 0.0f; // d < headDim: acc[d]; d = headDim + 1: l
        for (int k = 0; k < groups; k++) sum = fmaf(factor[k], merge[k * shStride + d], sum);
        out[d] = sum;
    }
}

extern "C" __global__ void __launch_bounds__(128) attention_combine_f32(
    float* __restrict__ out, const float* __restrict__ partial, int nSplits, int headDim)
{
    const int h = blockIdx.x, stride = headDim + 2;
    const float* __restrict__ parts = partial + (long long)h * nSplits * stride;
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
        out[(long long)h * headDim + d] = num / den; // den > 0: position pos is always visible
    }
}
