// Sample.cu — seeded temperature / top-p sampling on the device, the algorithm of
// SpecEE.Core.Sampling.Sampler.Sample (temperature > 0; greedy is argmax_f32):
//   m      = the largest non-NaN logit (argmax rule);  e_i = NaN(l_i) ? 0 : expf((l_i − m) / T)   (f32)
//   p_i    = e_i · (float)(1 / Σ e)                    (Σ in fp64)
//   r      = (SplitMix64(state) >> 40) · 2^−24          (state in device memory, advanced once per call)
//   top-p = 1:  the first i with p_i > 0 and r < Σ_{j ≤ i, p_j > 0} p_j (fp64), in id order; else the last p_i > 0.
//   top-p < 1:  candidates p_i ≥ (1 − topP)/(n − 1); sorted by (p desc, id asc), kept = the shortest prefix
//               whose mass reaches topP; target = r · mass; the first kept id whose running mass exceeds target.
// The sort is not done: with the order total, "the sorted prefix up to value v" is {p > v} plus the ties at v
// in id order. Two binary searches over the float bits of a probability (≤ 30 block reductions each) find
// v* (the last kept value) and the value of the sampled group; a tie group is resolved by counting in id
// order. Differences from the CPU: masses over {p ≥ v} are fp64 sums in a different order than the CPU's
// sorted running sum (relative error ~1e−16), so a token can differ only when r·mass or topP falls within
// that of a group boundary; the tie count uses repeated fp64 adds like the CPU.
// Shapes: token [1] int32, probs [n] f32 scratch (written), rng [1] u64 (read, advanced), logits [n] f32.
// Launch: ONE block of `threads` (multiple of 32, ≤ 1024; the launcher picks ≈ n/16, at least 32).
#include "specee_prelude.cuh"

// −inf by its bits (the NVRTC prelude has no CUDART_INF_F).
static __device__ __forceinline__ float neg_inf() { return __int_as_float((int)0xff800000u); }

#define SAMPLE_MAX_WARPS 32

struct SampleShared {
    double warpDouble[SAMPLE_MAX_WARPS];
    float warpValue[SAMPLE_MAX_WARPS];
    int warpIndex[SAMPLE_MAX_WARPS];
    double resultDouble;
    float resultValue;
    int resultIndex;
    float r;
};

static __device__ __forceinline__ bool beats(float v, int i, float bv, int bi) { return v > bv || (v == bv && i < bi); }

// Block-wide (max value, lowest index) over the threads' (v, i); every thread gets the winner's index.
static __device__ int block_argmax(SampleShared& s, float v, int i)
{
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    for (int o = 16; o > 0; o >>= 1) {
        const float ov = __shfl_xor_sync(0xffffffffu, v, o);
        const int oi = __shfl_xor_sync(0xffffffffu, i, o);
        if (beats(ov, oi, v, i)) { v = ov; i = oi; }
    }
    if (lane == 0) { s.warpValue[warp] = v; s.warpIndex[warp] = i; }
    __syncthreads();
    if (warp == 0) {
        v = lane < warps ? s.warpValue[lane] : neg_inf();
        i = lane < warps ? s.warpIndex[lane] : 0x7fffffff;
        for (int o = 16; o > 0; o >>= 1) {
            const float ov = __shfl_xor_sync(0xffffffffu, v, o);
            const int oi = __shfl_xor_sync(0xffffffffu, i, o);
            if (beats(ov, oi, v, i)) { v = ov; i = oi; }
        }
        if (lane == 0) s.resultIndex = i;
    }
    __syncthreads();
    const int result = s.resultIndex;
    __syncthreads(); // the shared slots are reused by the next reduction
    return result;
}

// Block-wide fp64 sum in a fixed tree order; every thread gets it.
static __device__ double block_sum(SampleShared& s, double v)
{
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    if (lane == 0) s.warpDouble[warp] = v;
    __syncthreads();
    if (warp == 0) {
        v = lane < warps ? s.warpDouble[lane] : 0.0;
        for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
        if (lane == 0) s.resultDouble = v;
    }
    __syncthreads();
    const double result = s.resultDouble;
    __syncthreads();
    return result;
}

// Exclusive prefix over threads (in thread order) of v; total in *total. fp64, fixed order.
static __device__ double block_exclusive_scan(SampleShared& s, double v, double* total)
{
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    double inclusive = v;
    for (int o = 1; o < 32; o <<= 1) {
        const double up = __shfl_up_sync(0xffffffffu, inclusive, o);
        if (lane >= o) inclusive += up;
    }
    if (lane == 31) s.warpDouble[warp] = inclusive;
    __syncthreads();
    double before = 0.0, all = 0.0;
    for (int w = 0; w < warps; w++) {
        if (w == warp) before = all;
        all += s.warpDouble[w];
    }
    __syncthreads();
    *total = all;
    return before + inclusive - v;
}

// Mass of candidates with p ≥ v (strict: p > v) over this thread's slice.
static __device__ double slice_mass(const float* p, int lo, int hi, float cutoff, float v, bool strict)
{
    double m = 0.0;
    for (int i = lo; i < hi; i++) {
        const float q = p[i];
        if (q >= cutoff && (strict ? q > v : q >= v)) m += q;
    }
    return m;
}

// How many elements have p == v (block-wide; every thread gets it).
static __device__ int block_count(SampleShared& s, const float* p, int lo, int hi, float v)
{
    int count = 0;
    for (int i = lo; i < hi; i++) count += p[i] == v;
    return (int)block_sum(s, (double)count);
}

// Id of the k-th (0-based, id order) element with p == v; every thread gets it (−1 if there is none).
static __device__ int block_select_tie(SampleShared& s, const float* p, int lo, int hi, float v, int k)
{
    int count = 0;
    for (int i = lo; i < hi; i++) count += p[i] == v;
    double total;
    const int before = (int)block_exclusive_scan(s, (double)count, &total);
    if (threadIdx.x == 0) s.resultIndex = -1;
    __syncthreads();
    if (k >= before && k < before + count) {
        int seen = before;
        for (int i = lo; i < hi; i++)
            if (p[i] == v && seen++ == k) { s.resultIndex = i; break; }
    }
    __syncthreads();
    const int result = s.resultIndex;
    __syncthreads();
    return result;
}

extern "C" __global__ void __launch_bounds__(1024) sample_f32(int* __restrict__ token, float* __restrict__ probs,
                                                              unsigned long long* __restrict__ rng, const float* __restrict__ logits,
                                                              int n, float temperature, float topP)
{
    __shared__ SampleShared s;
    const int tid = threadIdx.x;
    const int chunk = (n + blockDim.x - 1) / blockDim.x;
    const int lo = min(n, tid * chunk), hi = min(n, lo + chunk);

    // Softmax of logits / T, shifted by the argmax logit.
    float bv = neg_inf();
    int bi = 0x7fffffff;
    for (int i = lo; i < hi; i++) if (logits[i] > bv) { bv = logits[i]; bi = i; }
    const int maxIndex = block_argmax(s, bv, bi);
    const float mx = logits[maxIndex == 0x7fffffff ? 0 : maxIndex];
    double part = 0.0;
    for (int i = lo; i < hi; i++) {
        const float l = logits[i];
        const float e = l != l ? 0.0f : expf((l - mx) / temperature);
        probs[i] = e;
        part += e;
    }
    const float inv = (float)(1.0 / block_sum(s, part));
    for (int i = lo; i < hi; i++) probs[i] *= inv; // each thread rereads only its own slice below

    if (tid == 0) {
        // SplitMix64 (Steele, Lea, Flood 2014), as Sampler.NextUInt64; 24 random bits → [0, 1).
        unsigned long long z = (rng[0] += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        z ^= z >> 31;
        s.r = (float)(z >> 40) * (1.0f / 16777216.0f);
    }
    __syncthreads();
    const float r = s.r;

    if (topP >= 1.0f) {
        // Whole distribution in id order: the slice whose running mass crosses r walks it like the CPU.
        double sliceMass = 0.0;
        int lastPositive = -1;
        for (int i = lo; i < hi; i++) if (probs[i] > 0.0f) { sliceMass += probs[i]; lastPositive = i; }
        double total;
        const double before = block_exclusive_scan(s, sliceMass, &total);
        if (tid == 0) s.resultIndex = -1;
        __syncthreads();
        if (r < before + sliceMass && !(r < before)) {
            double acc = before;
            for (int i = lo; i < hi; i++) {
                if (probs[i] <= 0.0f) continue;
                acc += probs[i];
                if (r < acc) { s.resultIndex = i; break; }
            }
        }
        __syncthreads();
        int picked = s.resultIndex;
        __syncthreads();
        if (picked < 0) // rounding: the masses summed to slightly less than r → the highest id with p > 0
            picked = block_argmax(s, lastPositive < 0 ? neg_inf() : (float)lastPositive, lastPositive);
        if (tid == 0) token[0] = picked < 0 ? 0 : picked;
        return;
    }

    const float cutoff = n > 1 ? (1.0f - topP) / (float)(n - 1) : 0.0f;
    // v*: the largest value v with mass{cand, p ≥ v} ≥ topP (the last kept group), by bisection on the bits.
    const double candidateMass = block_sum(s, slice_mass(probs, lo, hi, cutoff, 0.0f, false));
    bool keepAll = !(candidateMass >= (double)topP);
    unsigned int loBits = 0, hiBits = 0x3f800001u; // p ≤ 1; invariant: mass(p ≥ loBits) ≥ topP
    if (!keepAll)
        while (hiBits - loBits > 1) {
            const unsigned int mid = loBits + (hiBits - loBits) / 2;
            if (block_sum(s, slice_mass(probs, lo, hi, cutoff, __uint_as_float(mid), false)) >= (double)topP) loBits = mid;
            else hiBits = mid;
        }
    float vStar = __uint_as_float(loBits);
    if (keepAll) { // not even all candidates reach topP (rounding): keep them all; v* = the smallest candidate
        float mv = -neg_inf();
        int mi = 0x7fffffff;
        for (int i = lo; i < hi; i++) if (probs[i] >= cutoff && probs[i] < mv) { mv = probs[i]; mi = i; }
        const int minIndex = block_argmax(s, mi == 0x7fffffff ? neg_inf() : -mv, mi);
        vStar = minIndex == 0x7fffffff ? 0.0f : probs[minIndex];
    }
    const double above = block_sum(s, slice_mass(probs, lo, hi, cutoff, vStar, true)); // mass of p > v*
    const int tieCount = block_count(s, probs, lo, hi, vStar);

    // Kept ties and the kept mass, by repeated fp64 adds like the CPU's running sum.
    if (tid == 0) {
        double mass = above;
        int kept = 0;
        while (kept < tieCount) {
            mass += vStar;
            kept++;
            if (!keepAll && mass >= (double)topP) break;
        }
        s.resultDouble = mass;
        s.resultIndex = kept;
    }
    __syncthreads();
    const double mass = s.resultDouble;
    const int keptTies = s.resultIndex;
    __syncthreads();
    const double target = (double)r * mass;

    int picked;
    if (target < above) {
        // In the group above v*: the largest value w > v* with mass{p ≥ w} > target, then its ties in id order.
        unsigned int wLo = __float_as_uint(vStar) + 1, wHi = 0x3f800001u; // invariant: mass(p ≥ wLo) > target
        while (wHi - wLo > 1) {
            const unsigned int mid = wLo + (wHi - wLo) / 2;
            if (block_sum(s, slice_mass(probs, lo, hi, cutoff, __uint_as_float(mid), false)) > target) wLo = mid;
            else wHi = mid;
        }
        const float w = __uint_as_float(wLo);
        const double aboveW = block_sum(s, slice_mass(probs, lo, hi, cutoff, w, true));
        const int wCount = block_count(s, probs, lo, hi, w);
        if (tid == 0) {
            double acc = aboveW;
            int k = 0;
            while (k < wCount - 1) { acc += w; if (target < acc) break; k++; }
            s.resultIndex = k;
        }
        __syncthreads();
        const int k = s.resultIndex;
        __syncthreads();
        picked = block_select_tie(s, probs, lo, hi, w, k);
    } else {
        if (tid == 0) {
            double acc = above;
            int k = 0;
            while (k < keptTies - 1) { acc += vStar; if (target < acc) break; k++; }
            s.resultIndex = k;
        }
        __syncthreads();
        const int k = s.resultIndex;
        __syncthreads();
        picked = block_select_tie(s, probs, lo, hi, vStar, k);
    }
    if (tid == 0) token[0] = picked < 0 ? 0 : picked;
}
