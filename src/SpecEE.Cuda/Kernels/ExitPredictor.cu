// ExitPredictor.cu — SpecEE's exit decision at one scheduled layer, fused into one block: the 4 candidate logits,
// the 12 features, the 12→hidden→1 MLP and the threshold test. The building block of SpecEE on the device; the
// verification (full-vocabulary argmax among the candidates) is lm_head + argmax, run only when this fires.
//
// exit_predictor_{f16,f32} (the suffix is the LM head's weight type):
//   z[i]  = Σ_d lmHead[c[i], d] · normed[d]          (i < 4; c = the step's EAGLE candidates)
//   p     = softmax(z) over the 4 values: exp(z − max z) / Σ, the sum taken in order 0..3
//   Δ     = p − pPrev if hasPrev else p               (pPrev: p of the previous scheduled layer of this step)
//   x     = [z0..z3, p0..p3, Δ0..Δ3]
//   logit = downBias + Σ_h down[h] · relu(upBias[h] + Σ_k up[h, k] · x[k])   (k summed 0..11 with fmaf)
//   fire  = 1 / (1 + exp(−logit)) > threshold          (strictly, as SpecEE's pred > 0.5)
// and the step state moves on: pPrev ← p, hasPrev ← 1 (whether or not it fires, as on the CPU).
// Exactly SpecEE.Core.EarlyExit's ExitFeatures + ExitPredictor; only the order of the two long sums (the dots
// over dim, the sum over hidden units) differs from the CPU, so results agree to fp32 rounding.
// Shapes: state [5] f32 = {pPrev[4], hasPrev 0/1} (zeroed at the start of every decode step), out [14] f32 =
// {x[12], logit, probability}, fire [1] int32, normed [dim] f32, lmHead [vocab, dim], candidates [4] int32
// (clamped into [0, vocab): they come from a device top-k, a bad id must not read out of bounds), up [hidden, 12]
// f32 row-major, upBias [hidden] f32, down [hidden] f32.
// Launch: ONE block of ExitPredictorKernel.BlockSize (256) threads; needs ≥ 4 warps (one per candidate dot).
// No atomics: warp butterflies and per-warp partial sums added in warp order (bit-stable run to run).
#include "specee_prelude.cuh"

static __device__ __forceinline__ float warp_sum(float v)
{
#pragma unroll
    for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_xor_sync(0xffffffffu, v, offset);
    return v;
}

static __device__ __forceinline__ float load_weight(const float* w, long long i) { return w[i]; }
static __device__ __forceinline__ float load_weight(const __half* w, long long i) { return __half2float(w[i]); }

template <typename W>
static __device__ __forceinline__ void exit_predictor(float* __restrict__ state, float* __restrict__ out,
    int* __restrict__ fire, const float* __restrict__ normed, const W* __restrict__ lmHead,
    const int* __restrict__ candidates, const float* __restrict__ up, const float* __restrict__ upBias,
    const float* __restrict__ down, float downBias, int hidden, int dim, int vocab, float threshold)
{
    __shared__ float z[4];
    __shared__ float x[12];
    __shared__ float warpSums[32];
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;

    // 1. Candidate logits: warp i dots LM-head row c[i] with the normed state.
    if (warp < 4) {
        const int c = min(max(candidates[warp], 0), vocab - 1);
        const W* row = lmHead + (long long)c * dim;
        float acc = 0.0f;
        for (int d = lane; d < dim; d += 32) acc = fmaf(load_weight(row, d), normed[d], acc);
        acc = warp_sum(acc);
        if (lane == 0) z[warp] = acc;
    }
    __syncthreads();

    // 2. Features, and the step state for the next scheduled layer (one thread: 4 values).
    if (tid == 0) {
        const float m = fmaxf(fmaxf(z[0], z[1]), fmaxf(z[2], z[3]));
        float p[4], sum = 0.0f;
        for (int i = 0; i < 4; i++) { p[i] = expf(z[i] - m); sum += p[i]; }
        const float inv = 1.0f / sum;
        const bool hasPrev = state[4] != 0.0f;
        for (int i = 0; i < 4; i++) {
            p[i] *= inv;
            x[i] = z[i];
            x[4 + i] = p[i];
            x[8 + i] = hasPrev ? p[i] - state[i] : p[i];
        }
        for (int i = 0; i < 4; i++) state[i] = p[i];
        state[4] = 1.0f;
    }
    __syncthreads();

    // 3. The MLP: each thread its hidden units, relu(up·x + b)·down, then a fixed-order block sum.
    float partial = 0.0f;
    for (int h = tid; h < hidden; h += blockDim.x) {
        const float* u = up + (long long)h * 12;
        float a = upBias[h];
#pragma unroll
        for (int k = 0; k < 12; k++) a = fmaf(u[k], x[k], a);
        if (a > 0.0f) partial = fmaf(a, down[h], partial);
    }
    partial = warp_sum(partial);
    if (lane == 0) warpSums[warp] = partial;
    __syncthreads();

    if (tid == 0) {
        float total = 0.0f;
        const int warps = (blockDim.x + 31) >> 5;
        for (int w = 0; w < warps; w++) total += warpSums[w];
        const float logit = downBias + total;
        const float probability = 1.0f / (1.0f + expf(-logit));
        for (int k = 0; k < 12; k++) out[k] = x[k];
        out[12] = logit;
        out[13] = probability;
        fire[0] = probability > threshold ? 1 : 0;
    }
}

extern "C" __global__ void __launch_bounds__(256) exit_predictor_f16(float* __restrict__ state, float* __restrict__ out,
    int* __restrict__ fire, const float* __restrict__ normed, const __half* __restrict__ lmHead,
    const int* __restrict__ candidates, const float* __restrict__ up, const float* __restrict__ upBias,
    const float* __restrict__ down, float downBias, int hidden, int dim, int vocab, float threshold)
{
    exit_predictor(state, out, fire, normed, lmHead, candidates, up, upBias, down, downBias, hidden, dim, vocab, threshold);
}

extern "C" __global__ void __launch_bounds__(256) exit_predictor_f32(float* __restrict__ state, float* __restrict__ out,
    int* __restrict__ fire, const float* __restrict__ normed, const float* __restrict__ lmHead,
    const int* __restrict__ candidates, const float* __restrict__ up, const float* __restrict__ upBias,
    const float* __restrict__ down, float downBias, int hidden, int dim, int vocab, float threshold)
{
    exit_predictor(state, out, fire, normed, lmHead, candidates, up, upBias, down, downBias, hidden, dim, vocab, threshold);
}
