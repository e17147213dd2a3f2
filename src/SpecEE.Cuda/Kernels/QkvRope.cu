// QkvRope.cu — fused Q/K/V projection of the normed residual, RoPE on q and k, and the KV-cache write.
//
// qkv_rope_f16 / qkv_rope_f32, with pos = *posPtr (step-state block), qDim = nHeads·headDim,
// kvDim = nKvHeads·headDim, rows = qDim + 2·kvDim, and for every row r:
//   o[r] = Σ_c W[r, c] · xn[c]                                  (W = [Wq; Wk; Wv], fp16 or fp32 weights)
// then, for each interleaved pair (r, r+1) = (2i, 2i+1) of a head in the q and k rows, with
// (cos, sin) = rope[pos, i] (the SpecEE.Cpu RopeTable values, uploaded by the launcher):
//   (o[r], o[r+1]) ← (o[r]·cos − o[r+1]·sin, o[r]·sin + o[r+1]·cos)    (same roundings as the CPU: no fma)
// and writes   q[r]                                  = o[r]            for r < qDim
//              keys  [layer, pos, r − qDim]          = o[r]            for qDim ≤ r < qDim + kvDim
//              values[layer, pos, r − qDim − kvDim]  = o[r]            for the rest.
// A pos outside [0, maxSeq) writes NaN to q and leaves the cache untouched (visible, never out of bounds).
// Shapes: q [qDim] f32, keys/values [nLayers, maxSeq, kvDim] f32, W [rows, dim] f16/f32 row-major (q rows,
// then k rows, then v rows; q/k rows in interleaved-pair RoPE order), xn [dim] f32 (16-byte aligned),
// rope [maxSeq, headDim/2] float2 (cos, sin), posPtr → int32.
// Launch: block 128 = 4 warps; a row pair (r, r+1) gets R = min(32, pow2ceil(packets per row)) lanes of a warp
// (32 for any dim ≥ 256 f16 / 128 f32), so a warp handles 32/R pairs; grid = ceil(rows/2 / (4·32/R)).
// dim % 8 == 0 (f16) / dim % 4 == 0 (f32): each lane reads 128-bit weight packets p = sublane, sublane+R, ...
// of both rows, four packets per row in flight per iteration (__ldg: read-only path).
// Accumulation: fp32 fmaf in column order within a lane, then a butterfly over the R lanes (fixed order).
// qkv_rope_{f16,f32}_batch (prefill): the same for nTok ≤ 8 tokens per launch, each weight packet read once for
// all of them: xn [nTok, dim], q [nTok, qDim], token t at position posPtr[t] (a device int32 array).
#include "specee_prelude.cuh"

namespace {

constexpr int kWarpsPerBlock = 4;
constexpr int kUnroll = 4;
constexpr int kBatch = 8; // tokens per launch of the _batch kernels (QkvRopeKernel.BatchTokens)

// acc += Σ over one 128-bit packet of weights (8 halves or 4 floats) starting at column 8p / 4p.
__device__ __forceinline__ float dot_packet(const __half*, uint4 w, const float4* __restrict__ x4, int p, float acc)
{
    const float4 a = x4[2 * p], b = x4[2 * p + 1];
    acc = fmaf(__half2float(__ushort_as_half((unsigned short)(w.x & 0xffffu))), a.x, acc);
    acc = fmaf(__half2float(__ushort_as_half((unsigned short)(w.x >> 16))), a.y, acc);
    acc = fmaf(__half2float(__ushort_as_half((unsigned short)(w.y & 0xffffu))), a.z, acc);
    acc = fmaf(__half2float(__ushort_as_half((unsigned short)(w.y >> 16))), a.w, acc);
    acc = fmaf(__half2float(__ushort_as_half((unsigned short)(w.z & 0xffffu))), b.x, acc);
    acc = fmaf(__half2float(__ushort_as_half((unsigned short)(w.z >> 16))), b.y, acc);
    acc = fmaf(__half2float(__ushort_as_half((unsigned short)(w.w & 0xffffu))), b.z, acc);
    acc = fmaf(__half2float(__ushort_as_half((unsigned short)(w.w >> 16))), b.w, acc);
    return acc;
}

__device__ __forceinline__ float dot_packet(const float*, uint4 w, const float4* __restrict__ x4, int p, float acc)
{
    const float4 a = x4[p];
    acc = fmaf(__uint_as_float(w.x), a.x, acc);
    acc = fmaf(__uint_as_float(w.y), a.y, acc);
    acc = fmaf(__uint_as_float(w.z), a.z, acc);
    acc = fmaf(__uint_as_float(w.w), a.w, acc);
    return acc;
}

// T = tokens per launch known at compile time (1: decode, kBatch: prefill); nTok ≤ T of them are real.
template <typename TW, int T>
__device__ __forceinline__ void qkv_rope(float* __restrict__ q, float* __restrict__ keys, float* __restrict__ values,
                                         const TW* __restrict__ w, const float* __restrict__ xn,
                                         const float2* __restrict__ rope, const int* __restrict__ posPtr, int nTok,
                                         int dim, int nHeads, int nKvHeads, int headDim, int layer, int maxSeq)
{
    const int qDim = nHeads * headDim, kvDim = nKvHeads * headDim, rows = qDim + 2 * kvDim;
    constexpr int elemsPerPacket = 16 / (int)sizeof(TW);
    const int packets = dim / elemsPerPacket;
    // A row pair gets rowLanes = min(32, pow2ceil(packets)) lanes, so short rows (dim 64, 128) keep every lane
    // busy: a warp then handles 32 / rowLanes pairs side by side.
    int rowLanes = 1;
    while (rowLanes < packets && rowLanes < 32) rowLanes <<= 1;
    const int lane = threadIdx.x & 31, sublane = lane & (rowLanes - 1);
    const int warpPairs = 32 / rowLanes;
    const int firstPair = (blockIdx.x * kWarpsPerBlock + (threadIdx.x >> 5)) * warpPairs;
    if (2 * firstPair >= rows) return; // the whole warp leaves together
    const int r = 2 * (firstPair + lane / rowLanes); // even row of this lane's pair
    const bool active = r < rows; // inactive lanes still join the shuffles below

    const uint4* __restrict__ row0 = reinterpret_cast<const uint4*>(w + (long long)(active ? r : 0) * dim);
    const uint4* __restrict__ row1 = row0 + packets;
    const float4* __restrict__ x4 = reinterpret_cast<const float4*>(xn); // token t at x4 + t·dim/4

    // Each weight packet is loaded once and used for all T tokens (the point of the batched variant).
    float acc0[T], acc1[T];
#pragma unroll
    for (int t = 0; t < T; t++) acc0[t] = acc1[t] = 0.0f;
    int p = active ? sublane : packets;
    const int step = rowLanes;
    for (; p + step * (kUnroll - 1) < packets; p += step * kUnroll) {
        uint4 w0[kUnroll], w1[kUnroll];
#pragma unroll
        for (int u = 0; u < kUnroll; u++) { w0[u] = __ldg(row0 + p + step * u); w1[u] = __ldg(row1 + p + step * u); }
#pragma unroll
        for (int u = 0; u < kUnroll; u++) {
#pragma unroll
            for (int t = 0; t < T; t++) {
                if (t >= nTok) break;
                const float4* xt = x4 + (long long)t * (dim / 4);
                acc0[t] = dot_packet(w, w0[u], xt, p + step * u, acc0[t]);
                acc1[t] = dot_packet(w, w1[u], xt, p + step * u, acc1[t]);
            }
        }
    }
    for (; p < packets; p += step) {
        const uint4 w0 = __ldg(row0 + p), w1 = __ldg(row1 + p);
#pragma unroll
        for (int t = 0; t < T; t++) {
            if (t >= nTok) break;
            const float4* xt = x4 + (long long)t * (dim / 4);
            acc0[t] = dot_packet(w, w0, xt, p, acc0[t]);
            acc1[t] = dot_packet(w, w1, xt, p, acc1[t]);
        }
    }
    for (int offset = rowLanes >> 1; offset > 0; offset >>= 1) {
#pragma unroll
        for (int t = 0; t < T; t++) {
            acc0[t] += __shfl_xor_sync(0xffffffffu, acc0[t], offset);
            acc1[t] += __shfl_xor_sync(0xffffffffu, acc1[t], offset);
        }
    }
    if (!active || sublane != 0) return;

#pragma unroll
    for (int t = 0; t < T; t++) {
        if (t >= nTok) break;
        const int pos = posPtr[t];
        if (pos < 0 || pos >= maxSeq) {
            if (r < qDim) q[(long long)t * qDim + r] = q[(long long)t * qDim + r + 1] = __int_as_float(0x7fc00000); // NaN
            continue;
        }
        float2 out = make_float2(acc0[t], acc1[t]);
        if (r < qDim + kvDim) {
            const float2 cs = rope[(long long)pos * (headDim / 2) + (r % headDim) / 2];
            // Separate roundings (no contraction to fma), as SpecEE.Cpu RopeTable.Apply computes it.
            out = make_float2(__fsub_rn(__fmul_rn(acc0[t], cs.x), __fmul_rn(acc1[t], cs.y)),
                              __fadd_rn(__fmul_rn(acc0[t], cs.y), __fmul_rn(acc1[t], cs.x)));
        }
        const long long cacheRow = ((long long)layer * maxSeq + pos) * kvDim;
        float2* dst;
        if (r < qDim) dst = reinterpret_cast<float2*>(q + (long long)t * qDim + r);
        else if (r < qDim + kvDim) dst = reinterpret_cast<float2*>(keys + cacheRow + (r - qDim));
        else dst = reinterpret_cast<float2*>(values + cacheRow + (r - qDim - kvDim));
        *dst = out;
    }
}

} // namespace

extern "C" __global__ void __launch_bounds__(128) qkv_rope_f16(
    float* __restrict__ q, float* __restrict__ keys, float* __restrict__ values, const __half* __restrict__ w,
    const float* __restrict__ xn, const float2* __restrict__ rope, const int* __restrict__ posPtr,
    int dim, int nHeads, int nKvHeads, int headDim, int layer, int maxSeq)
{
    qkv_rope<__half, 1>(q, keys, values, w, xn, rope, posPtr, 1, dim, nHeads, nKvHeads, headDim, layer, maxSeq);
}

extern "C" __global__ void __launch_bounds__(128) qkv_rope_f32(
    float* __restrict__ q, float* __restrict__ keys, float* __restrict__ values, const float* __restrict__ w,
    const float* __restrict__ xn, const float2* __restrict__ rope, const int* __restrict__ posPtr,
    int dim, int nHeads, int nKvHeads, int headDim, int layer, int maxSeq)
{
    qkv_rope<float, 1>(q, keys, values, w, xn, rope, posPtr, 1, dim, nHeads, nKvHeads, headDim, layer, maxSeq);
}

extern "C" __global__ void __launch_bounds__(128) qkv_rope_f16_batch(
    float* __restrict__ q, float* __restrict__ keys, float* __restrict__ values, const __half* __restrict__ w,
    const float* __restrict__ xn, const float2* __restrict__ rope, const int* __restrict__ posPtr, int nTok,
    int dim, int nHeads, int nKvHeads, int headDim, int layer, int maxSeq)
{
    qkv_rope<__half, kBatch>(q, keys, values, w, xn, rope, posPtr, nTok, dim, nHeads, nKvHeads, headDim, layer, maxSeq);
}

extern "C" __global__ void __launch_bounds__(128) qkv_rope_f32_batch(
    float* __restrict__ q, float* __restrict__ keys, float* __restrict__ values, const float* __restrict__ w,
    const float* __restrict__ xn, const float2* __restrict__ rope, const int* __restrict__ posPtr, int nTok,
    int dim, int nHeads, int nKvHeads, int headDim, int layer, int maxSeq)
{
    qkv_rope<float, kBatch>(q, keys, values, w, xn, rope, posPtr, nTok, dim, nHeads, nKvHeads, headDim, layer, maxSeq);
}
