// Gemv.cu — the weight-streaming matrix-vector products of a Llama step (batch-1 decode is bound by how
// fast these read the weights: design.md §5).
//
// Formulas (W row-major [rows, cols], fp16 or fp32; x, y, h fp32; t < nTok tokens, r < rows):
//   gemv_residual_<dt>     y[r]       += Σ_c W[r, c]·x[c]          O projection + residual, down + residual
//   lm_head_<dt>           y[r]        = Σ_c W[r, c]·x[c]          classifier logits (and any plain GEMV)
//   gate_up_swiglu_<dt>    h[r]        = silu(g)·u,  g = Σ_c W1[r, c]·x[c],  u = Σ_c W3[r, c]·x[c],
//                                        silu(g) = g·σ(g) = g / (1 + e^−g)    (W1 = gate, W3 = up)
//   *_batched              the same for nTok vectors: x [nTok, cols], y/h [nTok, rows]
// Shapes: y [rows] (batched [nTok, rows]), W [rows, cols], x [cols] (batched [nTok, cols]).
//
// Launch geometry (the launchers in GemvKernel.cs do this math):
//   block = 128 threads = 4 warps. gemv_residual / lm_head: each warp owns 2 consecutive rows
//   → grid.x = ceil(rows / 8). gate_up_swiglu: each warp owns 1 output row (= 2 weight rows, W1 and W3)
//   → grid.x = ceil(hidden / 4). Batched: grid.y = ceil(nTok / 8); a warp loads each weight chunk once
//   and applies it to up to 8 token vectors, so the weights stream from memory once per 8 tokens.
//   Llama-2-7B: 4096 rows → 512 CTAs, 11008 → 2752 (gate/up), 32000 → 4000: ≥ 2 CTAs per SM on 132 SMs.
//
// Memory path: when cols is a multiple of 8 (f16) / 4 (f32) and W and x are 16-byte aligned, each lane
// reads 16-byte weight chunks (ld.global.nc, L1::no_allocate: weights are read once, x stays in L1),
// four chunks per row per loop trip in decode (8 × 16 B in flight per lane for 2 rows; batched: two),
// lanes interleaved so a warp reads 512 contiguous bytes per row per load. Otherwise (e.g. stories260K's
// hidden 172) a scalar path strides lanes over elements: correct for any shape, slower; such models are tiny.
//
// Accumulation: fp32, deterministic. Lane l sums its chunks in increasing chunk order (chunks l, l+32, ...),
// the elements of a chunk in index order with fmaf; then a butterfly (xor 16, 8, 4, 2, 1). No atomics,
// no split-K: each output is produced by one warp, so results are bit-stable run to run, and the batched
// kernels give bit-identical results to the single-token ones (same order per output).
#include "specee_prelude.cuh"

#define GEMV_WARPS 4        // warps per block
// block = 128 threads = GEMV_WARPS * 32 (written as a literal in __launch_bounds__ below)
#define GEMV_ROWS 2         // rows per warp (gemv_residual, lm_head)
#define GEMV_TOKEN_TILE 8   // token vectors per block in the batched kernels
// Chunks per row per loop trip: decode 4 (2 rows × 4 × 16 B = 128 B of weights in flight per lane, ≈ 60 KiB
// per SM at 4096 rows: above HBM's bandwidth × latency per SM); batched 2 (its x tiles need the registers).
#define GEMV_UNROLL(TOK) ((TOK) == 1 ? 4 : 2)

// 16 bytes of weights, read once: non-coherent path, not allocated in L1 so x keeps its lines there.
static __device__ __forceinline__ uint4 load_weights16(const unsigned char* p)
{
#ifndef SPECEE_CUDASIM
    uint4 v;
    asm("ld.global.nc.L1::no_allocate.v4.u32 {%0, %1, %2, %3}, [%4];"
        : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w) : "l"(p));
    return v;
#else
    return *reinterpret_cast<const uint4*>(p);
#endif
}

static __device__ __forceinline__ float4 load_x4(const float* p)
{
    return __ldg(reinterpret_cast<const float4*>(p));
}

static __device__ __forceinline__ float half_lo(unsigned int u) { return __half2float(__ushort_as_half((unsigned short)(u & 0xffffu))); }
static __device__ __forceinline__ float half_hi(unsigned int u) { return __half2float(__ushort_as_half((unsigned short)(u >> 16))); }

// x values of one chunk, loaded once and applied to every row of the warp.
struct XChunk { float v[8]; };

// Weight formats: Elems weights per 16-byte chunk; LoadX reads the chunk's Elems x values; Fma adds
// chunk·x to acc in element order; Scalar reads one weight for the scalar path.
struct F16Weights {
    static const int Elems = 8;
    static __device__ __forceinline__ XChunk LoadX(const float* x)
    {
        const float4 a = load_x4(x), b = load_x4(x + 4);
        XChunk c;
        c.v[0] = a.x; c.v[1] = a.y; c.v[2] = a.z; c.v[3] = a.w; c.v[4] = b.x; c.v[5] = b.y; c.v[6] = b.z; c.v[7] = b.w;
        return c;
    }
    static __device__ __forceinline__ float Fma(uint4 w, const XChunk& x, float acc)
    {
        acc = fmaf(half_lo(w.x), x.v[0], acc); acc = fmaf(half_hi(w.x), x.v[1], acc);
        acc = fmaf(half_lo(w.y), x.v[2], acc); acc = fmaf(half_hi(w.y), x.v[3], acc);
        acc = fmaf(half_lo(w.z), x.v[4], acc); acc = fmaf(half_hi(w.z), x.v[5], acc);
        acc = fmaf(half_lo(w.w), x.v[6], acc); acc = fmaf(half_hi(w.w), x.v[7], acc);
        return acc;
    }
    static __device__ __forceinline__ float Scalar(const unsigned char* row, int c)
    {
        return __half2float(reinterpret_cast<const __half*>(row)[c]);
    }
};

struct F32Weights {
    static const int Elems = 4;
    static __device__ __forceinline__ XChunk LoadX(const float* x)
    {
        const float4 a = load_x4(x);
        XChunk c;
        c.v[0] = a.x; c.v[1] = a.y; c.v[2] = a.z; c.v[3] = a.w;
        return c;
    }
    static __device__ __forceinline__ float Fma(uint4 w, const XChunk& x, float acc)
    {
        acc = fmaf(__uint_as_float(w.x), x.v[0], acc); acc = fmaf(__uint_as_float(w.y), x.v[1], acc);
        acc = fmaf(__uint_as_float(w.z), x.v[2], acc); acc = fmaf(__uint_as_float(w.w), x.v[3], acc);
        return acc;
    }
    static __device__ __forceinline__ float Scalar(const unsigned char* row, int c)
    {
        return reinterpret_cast<const float*>(row)[c];
    }
};

// acc[t][r] += W-row r · x_t for the NR rows w[r] (byte pointers to row starts) and the nt ≤ TOK token
// vectors x + t·cols, over this lane's share of the columns. vec selects the 16-byte chunk path, which
// takes U chunks per row per loop trip (U·NR independent 16-byte loads issued before the first FMA), then
// single chunks. Per row the chunks are applied in increasing order either way.
template <typename WF, int NR, int TOK, int U>
static __device__ __forceinline__ void warp_dots(float (&acc)[TOK][NR], const unsigned char* const (&w)[NR],
                                                 const float* __restrict__ x, int cols, int nt, bool vec, int lane)
{
    if (vec) {
        const int chunks = cols / WF::Elems;
        int k = lane;
        for (; k + 32 * (U - 1) < chunks; k += 32 * U) {
            uint4 a[NR][U];
#pragma unroll
            for (int r = 0; r < NR; r++)
#pragma unroll
                for (int u = 0; u < U; u++) a[r][u] = load_weights16(w[r] + (long long)(k + 32 * u) * 16);
#pragma unroll
            for (int t = 0; t < TOK; t++) {
                if (t < nt) {
                    const float* xt = x + (long long)t * cols;
#pragma unroll
                    for (int u = 0; u < U; u++) {
                        const XChunk xu = WF::LoadX(xt + (k + 32 * u) * WF::Elems);
#pragma unroll
                        for (int r = 0; r < NR; r++) acc[t][r] = WF::Fma(a[r][u], xu, acc[t][r]);
                    }
                }
            }
        }
        for (; k < chunks; k += 32) {
            uint4 a[NR];
#pragma unroll
            for (int r = 0; r < NR; r++) a[r] = load_weights16(w[r] + (long long)k * 16);
#pragma unroll
            for (int t = 0; t < TOK; t++)
                if (t < nt) {
                    const XChunk xa = WF::LoadX(x + (long long)t * cols + k * WF::Elems);
#pragma unroll
                    for (int r = 0; r < NR; r++) acc[t][r] = WF::Fma(a[r], xa, acc[t][r]);
                }
        }
    } else {
        for (int c = lane; c < cols; c += 32) {
            float wv[NR];
#pragma unroll
            for (int r = 0; r < NR; r++) wv[r] = WF::Scalar(w[r], c);
#pragma unroll
            for (int t = 0; t < TOK; t++)
                if (t < nt) {
                    const float xv = x[(long long)t * cols + c];
#pragma unroll
                    for (int r = 0; r < NR; r++) acc[t][r] = fmaf(wv[r], xv, acc[t][r]);
                }
        }
    }
}

static __device__ __forceinline__ float warp_sum(float v)
{
#pragma unroll
    for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_xor_sync(0xffffffffu, v, offset);
    return v;
}

template <typename WF>
static __device__ __forceinline__ bool use_vector_path(const void* w, const float* x, int cols)
{
    return cols % WF::Elems == 0 && ((reinterpret_cast<unsigned long long>(w) | reinterpret_cast<unsigned long long>(x)) & 15u) == 0;
}

// gemv_residual (RESIDUAL) / lm_head (store): rows r0, r0+1 of this warp, token tile blockIdx.y.
template <typename WF, int TOK, bool RESIDUAL>
static __device__ __forceinline__ void gemv_rows(float* __restrict__ y, const void* __restrict__ W,
                                                 const float* __restrict__ x, int rows, int cols, int nTok)
{
    const int lane = threadIdx.x & 31;
    const int r0 = (blockIdx.x * GEMV_WARPS + (threadIdx.x >> 5)) * GEMV_ROWS;
    if (r0 >= rows) return; // whole warp leaves together: no shuffle waits on it
    const int tok0 = TOK == 1 ? 0 : blockIdx.y * TOK; // decode kernels: one vector, grid.y = 1
    const int nt = TOK == 1 ? 1 : min(TOK, nTok - tok0);
    x += (long long)tok0 * cols;
    y += (long long)tok0 * rows;
    const int r1 = min(r0 + 1, rows - 1); // an odd last row re-reads row r0 and does not store it
    const size_t rowBytes = (size_t)cols * (WF::Elems == 8 ? 2 : 4);
    const unsigned char* base = static_cast<const unsigned char*>(W);
    const unsigned char* const w[GEMV_ROWS] = { base + r0 * rowBytes, base + r1 * rowBytes };
    float acc[TOK][GEMV_ROWS];
#pragma unroll
    for (int t = 0; t < TOK; t++) { acc[t][0] = 0.0f; acc[t][1] = 0.0f; }
    warp_dots<WF, GEMV_ROWS, TOK, GEMV_UNROLL(TOK)>(acc, w, x, cols, nt, use_vector_path<WF>(W, x, cols), lane);
#pragma unroll
    for (int t = 0; t < TOK; t++) {
        if (t < nt) {
            const float s0 = warp_sum(acc[t][0]);
            const float s1 = warp_sum(acc[t][1]);
            if (lane == 0) {
                float* yt = y + (long long)t * rows;
                yt[r0] = RESIDUAL ? yt[r0] + s0 : s0;
                if (r0 + 1 < rows) yt[r0 + 1] = RESIDUAL ? yt[r0 + 1] + s1 : s1;
            }
        }
    }
}

// gate_up_swiglu: row r of W1 and of W3 in one warp, SwiGLU epilogue.
template <typename WF, int TOK>
static __device__ __forceinline__ void gate_up_rows(float* __restrict__ h, const void* __restrict__ W1,
                                                    const void* __restrict__ W3, const float* __restrict__ x,
                                                    int hidden, int dim, int nTok)
{
    const int lane = threadIdx.x & 31;
    const int r = blockIdx.x * GEMV_WARPS + (threadIdx.x >> 5);
    if (r >= hidden) return;
    const int tok0 = TOK == 1 ? 0 : blockIdx.y * TOK;
    const int nt = TOK == 1 ? 1 : min(TOK, nTok - tok0);
    x += (long long)tok0 * dim;
    h += (long long)tok0 * hidden;
    const size_t rowBytes = (size_t)dim * (WF::Elems == 8 ? 2 : 4);
    const unsigned char* const w[2] = { static_cast<const unsigned char*>(W1) + r * rowBytes,
                                        static_cast<const unsigned char*>(W3) + r * rowBytes };
    float acc[TOK][2];
#pragma unroll
    for (int t = 0; t < TOK; t++) { acc[t][0] = 0.0f; acc[t][1] = 0.0f; }
    const bool vec = use_vector_path<WF>(W1, x, dim) && use_vector_path<WF>(W3, x, dim);
    warp_dots<WF, 2, TOK, GEMV_UNROLL(TOK)>(acc, w, x, dim, nt, vec, lane);
#pragma unroll
    for (int t = 0; t < TOK; t++) {
        if (t < nt) {
            const float g = warp_sum(acc[t][0]);
            const float u = warp_sum(acc[t][1]);
            if (lane == 0) {
                const float sigmoid = 1.0f / (1.0f + expf(-g));
                h[(long long)t * hidden + r] = (sigmoid * g) * u; // the CPU's order: σ(g), ·g, ·u
            }
        }
    }
}

// ---- entry points (parameter lists: outputs, inputs, sizes) -------------------------------------------

extern "C" __global__ void __launch_bounds__(128) gemv_residual_f16(float* __restrict__ y, const __half* __restrict__ W,
                                                                       const float* __restrict__ x, int rows, int cols)
{
    gemv_rows<F16Weights, 1, true>(y, W, x, rows, cols, 1);
}

extern "C" __global__ void __launch_bounds__(128) gemv_residual_f32(float* __restrict__ y, const float* __restrict__ W,
                                                                       const float* __restrict__ x, int rows, int cols)
{
    gemv_rows<F32Weights, 1, true>(y, W, x, rows, cols, 1);
}

extern "C" __global__ void __launch_bounds__(128) lm_head_f16(float* __restrict__ y, const __half* __restrict__ W,
                                                                 const float* __restrict__ x, int rows, int cols)
{
    gemv_rows<F16Weights, 1, false>(y, W, x, rows, cols, 1);
}

extern "C" __global__ void __launch_bounds__(128) lm_head_f32(float* __restrict__ y, const float* __restrict__ W,
                                                                 const float* __restrict__ x, int rows, int cols)
{
    gemv_rows<F32Weights, 1, false>(y, W, x, rows, cols, 1);
}

extern "C" __global__ void __launch_bounds__(128) gate_up_swiglu_f16(float* __restrict__ h, const __half* __restrict__ W1,
                                                                        const __half* __restrict__ W3, const float* __restrict__ x,
                                                                        int hidden, int dim)
{
    gate_up_rows<F16Weights, 1>(h, W1, W3, x, hidden, dim, 1);
}

extern "C" __global__ void __launch_bounds__(128) gate_up_swiglu_f32(float* __restrict__ h, const float* __restrict__ W1,
                                                                        const float* __restrict__ W3, const float* __restrict__ x,
                                                                        int hidden, int dim)
{
    gate_up_rows<F32Weights, 1>(h, W1, W3, x, hidden, dim, 1);
}

extern "C" __global__ void __launch_bounds__(128) gemv_residual_f16_batched(float* __restrict__ y, const __half* __restrict__ W,
                                                                               const float* __restrict__ x, int rows, int cols, int nTok)
{
    gemv_rows<F16Weights, GEMV_TOKEN_TILE, true>(y, W, x, rows, cols, nTok);
}

extern "C" __global__ void __launch_bounds__(128) gemv_residual_f32_batched(float* __restrict__ y, const float* __restrict__ W,
                                                                               const float* __restrict__ x, int rows, int cols, int nTok)
{
    gemv_rows<F32Weights, GEMV_TOKEN_TILE, true>(y, W, x, rows, cols, nTok);
}

extern "C" __global__ void __launch_bounds__(128) lm_head_f16_batched(float* __restrict__ y, const __half* __restrict__ W,
                                                                         const float* __restrict__ x, int rows, int cols, int nTok)
{
    gemv_rows<F16Weights, GEMV_TOKEN_TILE, false>(y, W, x, rows, cols, nTok);
}

extern "C" __global__ void __launch_bounds__(128) lm_head_f32_batched(float* __restrict__ y, const float* __restrict__ W,
                                                                         const float* __restrict__ x, int rows, int cols, int nTok)
{
    gemv_rows<F32Weights, GEMV_TOKEN_TILE, false>(y, W, x, rows, cols, nTok);
}

extern "C" __global__ void __launch_bounds__(128) gate_up_swiglu_f16_batched(float* __restrict__ h, const __half* __restrict__ W1,
                                                                                const __half* __restrict__ W3, const float* __restrict__ x,
                                                                                int hidden, int dim, int nTok)
{
    gate_up_rows<F16Weights, GEMV_TOKEN_TILE>(h, W1, W3, x, hidden, dim, nTok);
}

extern "C" __global__ void __launch_bounds__(128) gate_up_swiglu_f32_batched(float* __restrict__ h, const float* __restrict__ W1,
                                                                                const float* __restrict__ W3, const float* __restrict__ x,
                                                                                int hidden, int dim, int nTok)
{
    gate_up_rows<F32Weights, GEMV_TOKEN_TILE>(h, W1, W3, x, hidden, dim, nTok);
}
