// Sample kernels for the simulator tests: element-wise work and grid indexing.
#include "specee_prelude.cuh"

// out[i] = a[i] + b[i], i < n. Grid-stride loop, any 1D geometry.
extern "C" __global__ void vector_add_f32(float* __restrict__ out, const float* __restrict__ a,
                                          const float* __restrict__ b, int n) {
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += blockDim.x * gridDim.x) out[i] = a[i] + b[i];
}

// Every thread of a 3D grid of 3D blocks writes its coordinates at its global linear id:
// out[id] = (bz·100 + by·10 + bx)·1000 + tz·100 + ty·10 + tx, with the natural x-fastest linearisation.
extern "C" __global__ void grid_index_3d(int* out) {
    const unsigned threadsPerBlock = blockDim.x * blockDim.y * blockDim.z;
    const unsigned block = (blockIdx.z * gridDim.y + blockIdx.y) * gridDim.x + blockIdx.x;
    const unsigned thread = (threadIdx.z * blockDim.y + threadIdx.y) * blockDim.x + threadIdx.x;
    out[block * threadsPerBlock + thread] = static_cast<int>(
        (blockIdx.z * 100 + blockIdx.y * 10 + blockIdx.x) * 1000 + threadIdx.z * 100 + threadIdx.y * 10 + threadIdx.x);
}

// Device-resident counter for graph tests: a single thread appends `value` and then the word at `hostSlot`
// (device memory filled by a captured memcpy) to `log`. [counter] i32, [log] i32 pairs.
extern "C" __global__ void append_step(int* counter, int* log, int value, const int* hostSlot) {
    if (threadIdx.x != 0 || blockIdx.x != 0) return;
    const int i = *counter;
    log[2 * i] = value;
    log[2 * i + 1] = *hostSlot;
    *counter = i + 1;
}

// fp16 round trip through __half / __half2 on the device: out[i] = float(half(in[i])) for 2 elements per thread.
extern "C" __global__ void half_round_trip(float* out, const float* in, int n) {
    const int i = 2 * (blockIdx.x * blockDim.x + threadIdx.x);
    if (i >= n) return;
    const __half2 h = __floats2half2_rn(in[i], i + 1 < n ? in[i + 1] : 0.0f);
    const float2 back = __half22float2(h);
    out[i] = back.x;
    if (i + 1 < n) out[i + 1] = back.y;
}
