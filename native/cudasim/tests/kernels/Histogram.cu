// Sample kernels for the simulator tests: atomics across blocks (and so across worker threads).
#include "specee_prelude.cuh"

// bins[values[i] % binCount] += 1 for i < n; a privatised per-block histogram in static shared memory
// is merged with one atomicAdd per bin. binCount ≤ 256.
extern "C" __global__ void histogram_u32(unsigned* bins, const unsigned* values, int n, int binCount) {
    __shared__ unsigned local[256];
    for (int b = threadIdx.x; b < binCount; b += blockDim.x) local[b] = 0;
    __syncthreads();
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += blockDim.x * gridDim.x)
        atomicAdd(&local[values[i] % binCount], 1u);
    __syncthreads();
    for (int b = threadIdx.x; b < binCount; b += blockDim.x)
        if (local[b] != 0) atomicAdd(&bins[b], local[b]);
}

// *sum += x[i] for i < n, one float atomicAdd per element (order, hence rounding, varies like on a GPU).
// *maxValue = max(values), *exchanged = the value of the last atomicExch, *casWins counts successful CAS
// from 0 → thread id + 1 on the word *casSlot (exactly one thread can win).
extern "C" __global__ void atomic_mix(float* sum, int* maxValue, int* casSlot, int* casWins, const float* x,
                                      const int* values, int n) {
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    atomicAdd(sum, x[i]);
    atomicMax(maxValue, values[i]);
    if (atomicCAS(casSlot, 0, i + 1) == 0) atomicAdd(casWins, 1);
}
