// Module isolation probe: IsolationA.cu and IsolationB.cu define the same helper differently, as two NVRTC
// modules may. Each kernel must see its own file's helper.
#include "specee_prelude.cuh"

__device__ __forceinline__ int module_tag() { return 2; }
__device__ int g_calls;  // a per-module __device__ global

extern "C" __global__ void module_tag_b(int* out) {
    out[0] = module_tag();
    out[1] = ++g_calls;
}
