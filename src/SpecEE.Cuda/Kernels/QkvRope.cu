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
// Launch: block 128 = 4 warps, one warp per row pair (r, r+1), grid = ceil(rows/2 / 4).
// dim % 8 == 0 (f16) / dim % 4 == 0 (f32): each lane reads 128-bit weight packets p = lane, lane+32, ...
// of both rows, four packets per row in flight per iteration (__ldg: read-only path).
// Accumulation: fp32 fmaf in column order within a lane, then a warp butterfly (fixed order, no atomics).
#include "specee_prelude.cuh"

namespace {

constexpr int kWarpsPerBlock = 4;
constexpr int kUnroll = 4;

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

template <typename TW>
__device__ __forceinline__ void qkv_rope(float* __restrict__ q, float* __restrict__ keys, float* __restrict__ values,
                                         const TW* __restrict__ w, const float* __restrict__ xn,
                                         const float2* __restrict__ rope, const int* __restrict__ posPtr,
                                         int dim, int nHeads, int nKvHeads, int headDim, int layer, int maxSeq)
{
    const int qDim = nHeads * headDim, kvDim = nKvHeads * headDim, rows = qDim + 2 * kvDim;
    const int lane = threadIdx.x & 31;
    const int r = 2 * (blockIdx.x * kWarpsPerBlock + (threadIdx.x >> 5)); // even row of this warp's pair
    if (r >= rows) return; // whole warp leaves together

    constexpr int elemsPerPacket = 16 / (int)sizeof(TW);
    const int packets = dim / elemsPerPacket;
    const uint4* __restrict__ row0 = reinterpret_cast<const uint4*>(w + (long long)r * dim);
    const uint4* __restrict__ row1 = row0 + packets;
    const float4* __restrict__ x4 = reinterpret_cast<const float4*>(xn);

    float acc0 = 0.0f, acc1 = 0.0f;
    int p = lane;
    for (; p + 32 * (kUnroll - 1) < packets; p += 32 * kUnroll) {
        uint4 w0[kUnroll], w1[kUnroll];
#pragma unroll
        for (int u = 0; u < kUnroll; u++) { w0[u] = __ldg(row0 + p + 32 * u); w1[u] = __ldg(row1 + p + 32 * u); }
#pragma unroll
        for (int u = 0; u < kUnroll; u++) {
            acc0 = dot_packet(w, w0[u], x4, p + 32 * u, acc0);
            acc1 = dot_packet(w, w1[u], x4, p + 32 * u, acc1);
        }
    }
    for (; p < packets; p += 32) {
        acc0 = dot_packet(w, __ldg(row0 + p), x4, p, acc0);
        acc1 = dot_packet(w, __ldg(row1 + p), x4, p, acc1);
    }
    for (int offset = 16; offset > 0; offset >>= 1) {
        acc0 += __shfl_xor_sync(0xffffffffu, acc0, offset);
        acc1 += __shfl_xor_sync(0xffffffffu, acc1, offset);
    }
    if (lane != 0) return;

    const int pos = *posPtr;
    if (pos < 0 || pos >= maxSeq) {
        if (r < qDim) q[r] = q[r + 1] = __int_as_float(0x7fc00000); // quiet NaN
        return;
    }
    float2 out = make_float2(acc0, acc1);
    if (r < qDim + kvDim) {
        const float2 cs = rope[(long long)pos * (headDim / 2) + (r % headDim) / 2];
        // Separate roundings (no contraction to fma), as SpecEE.Cpu RopeTable.Apply computes it.
        out = make_float2(__fsub_rn(__fmul_rn(acc0, cs.x), __fmul_rn(acc1, cs.y)),
                          __fadd_rn(__fmul_rn(acc0, cs.y), __fmul_rn(acc1, cs.x)));
    }
    float2* dst;
    if (r < qDim) dst = reinterpret_cast<float2*>(q + r);
    else if (r < qDim + kvDim) dst = reinterpret_cast<float2*>(keys + ((long long)layer * maxSeq + pos) * kvDim + (r - qDim));
    else dst = reinterpret_cast<float2*>(values + ((long long)layer * maxSeq + pos) * kvDim + (r - qDim - kvDim));
    *dst = out;
}

} // namespace

extern "C" __global__ void __launch_bounds__(128) qkv_rope_f16(
    float* __restrict__ q, float* __restrict__ keys, float* __restrict__ values, const __half* __restrict__ w,
    const float* __restrict__ xn, const float2* __restrict__ rope, const int* __restrict__ posPtr,
    int dim, int nHeads, int nKvHeads, int headDim, int layer, int maxSeq)
{
    qkv_rope(q, keys, values, w, xn, rope, posPtr, dim, nHeads, nKvHeads, headDim, layer, maxSeq);
}

extern "C" __global__ void __launch_bounds__(128) qkv_rope_f32(
    float* __restrict__ q, float* __restrict__ keys, float* __restrict__ values, const float* __restrict__ w,
    const float* __restrict__ xn, const float2* __restrict__ rope, const int* __restrict__ posPtr,
    int dim, int nHeads, int nKvHeads, int headDim, int layer, int maxSeq)
{
    qkv_rope(q, keys, values, w, xn, rope, posPtr, dim, nHeads, nKvHeads, headDim, layer, maxSeq);
}
