// Embed.cu — token embedding lookup: the first kernel of a decode step.
//
// embed_f16 / embed_f32, for i < dim:
//   x[i] = float(table[token, i])           token = *tokenPtr, read from the step-state block on the device
// A token outside [0, vocab) writes NaN to all of x (a visible failure downstream, never an out-of-bounds read).
// Shapes: x [dim] f32, table [vocab, dim] f16 or f32 (row-major), tokenPtr → one int32.
// Launch: 1D, one thread per element, block 256, grid = ceil(dim / 256). No reduction.
#include "specee_prelude.cuh"

namespace {

__device__ __forceinline__ float to_float(float v) { return v; }
__device__ __forceinline__ float to_float(__half v) { return __half2float(v); }

template <typename TW>
__device__ __forceinline__ void embed_row(float* __restrict__ x, const TW* __restrict__ table,
                                          const int* __restrict__ tokenPtr, int vocab, int dim)
{
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= dim) return;
    const int token = *tokenPtr;
    // 0x7fc00000 = quiet NaN (the NVRTC prelude has no CUDART_NAN_F).
    x[i] = (token >= 0 && token < vocab) ? to_float(table[(long long)token * dim + i]) : __int_as_float(0x7fc00000);
}

} // namespace

extern "C" __global__ void embed_f16(float* __restrict__ x, const __half* __restrict__ table,
                                     const int* __restrict__ tokenPtr, int vocab, int dim)
{
    embed_row(x, table, tokenPtr, vocab, dim);
}

extern "C" __global__ void embed_f32(float* __restrict__ x, const float* __restrict__ table,
                                     const int* __restrict__ tokenPtr, int vocab, int dim)
{
    embed_row(x, table, tokenPtr, vocab, dim);
}
