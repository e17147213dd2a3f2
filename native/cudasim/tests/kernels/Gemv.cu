// Sample kernel for the simulator tests: the shape of the backend's batch-1 GEMV.
#include "specee_prelude.cuh"

constexpr int kGemvThreads = 256;           // 8 warps, one output row per warp
constexpr int kGemvTile = 1024;             // x is staged through shared memory in tiles of this many floats

// y[r] = Σ_k W[r, k] · x[k]. W [rows, cols] f32 row-major, x [cols], y [rows].
// Launch: block 256, grid ceil(rows / 8). fp32 accumulation, lanes stride over k, butterfly reduction.
extern "C" __global__ void __launch_bounds__(kGemvThreads) gemv_f32(float* __restrict__ y, const float* __restrict__ w,
                                                                   const float* __restrict__ x, int rows, int cols) {
    __shared__ float xs[kGemvTile];
    const int warp = threadIdx.x / 32;
    const int lane = threadIdx.x % 32;
    const int row = blockIdx.x * (kGemvThreads / 32) + warp;
    float acc = 0.0f;
    for (int base = 0; base < cols; base += kGemvTile) {
        const int len = min(kGemvTile, cols - base);
        __syncthreads();  // the previous tile is no longer read
        for (int k = threadIdx.x; k < len; k += kGemvThreads) xs[k] = x[base + k];
        __syncthreads();
        if (row < rows) {
            const float* wr = w + static_cast<size_t>(row) * cols + base;
            for (int k = lane; k < len; k += 32) acc = fmaf(__ldg(wr + k), xs[k], acc);
        }
    }
    for (int offset = 16; offset > 0; offset >>= 1) acc += __shfl_xor_sync(0xffffffffu, acc, offset);
    if (row < rows && lane == 0) y[row] = acc;
}

// Same GEMV without any barrier or shuffle: one thread per row (the simulator's fast path).
extern "C" __global__ void gemv_f32_rowthread(float* __restrict__ y, const float* __restrict__ w,
                                              const float* __restrict__ x, int rows, int cols) {
    const int row = blockIdx.x * blockDim.x + threadIdx.x;
    if (row >= rows) return;
    float acc = 0.0f;
    for (int k = 0; k < cols; ++k) acc = fmaf(w[static_cast<size_t>(row) * cols + k], x[k], acc);
    y[row] = acc;
}
