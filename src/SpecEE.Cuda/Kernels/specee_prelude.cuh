// specee_prelude.cuh — the only header our kernels include.
//
// NVRTC is given this text in memory (nvrtcCreateProgram headers/includeNames), so kernels build with
// no CUDA toolkit headers installed. NVRTC already provides, without any include:
//   threadIdx/blockIdx/blockDim/gridDim, __syncthreads, __shfl_*_sync, atomics, the vector types
//   (float2/float4/int4/uint4/... and make_*), __float_as_int & co.
// It lacks <stdint.h> and cuda_fp16.h; this prelude supplies what we use of them.
//
// Under SPECEE_CUDASIM (g++ building native/cudasim) the simulator's cudasim.h provides the same names
// for the CPU: __half, __half2, half, half2, __float2half, __float2half_rn, __half2float,
// __floats2half2_rn, __half22float2, __low2float, __high2float, __half_as_ushort, __ushort_as_half,
// the vector types, the intN_t types and SPECEE_REGISTER_KERNEL. Kernels use only those functions,
// never the members of __half, so either representation works.
#pragma once

#if defined(SPECEE_CUDASIM)
#include "cudasim.h"
#else

// ---- fixed-width integers (NVRTC targets the host data model; long long is 64-bit everywhere) ----
typedef signed char int8_t;
typedef unsigned char uint8_t;
typedef short int16_t;
typedef unsigned short uint16_t;
typedef int int32_t;
typedef unsigned int uint32_t;
typedef long long int64_t;
typedef unsigned long long uint64_t;

// ---- half precision: 16 raw bits; arithmetic is done in float after conversion ----
struct __align__(2) __half { unsigned short bits_; };
struct __align__(4) __half2 { __half x, y; };
typedef __half half;
typedef __half2 half2;

__device__ __forceinline__ unsigned short __half_as_ushort(__half h) { return h.bits_; }
__device__ __forceinline__ __half __ushort_as_half(unsigned short u) { __half h; h.bits_ = u; return h; }

// float → half, round to nearest even (the one rounding cuda_fp16's __float2half uses).
__device__ __forceinline__ __half __float2half_rn(float f)
{
    unsigned short u;
    asm("cvt.rn.f16.f32 %0, %1;" : "=h"(u) : "f"(f));
    return __ushort_as_half(u);
}
__device__ __forceinline__ __half __float2half(float f) { return __float2half_rn(f); }

// half → float is exact.
__device__ __forceinline__ float __half2float(__half h)
{
    float f;
    asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(h.bits_));
    return f;
}

__device__ __forceinline__ __half2 __floats2half2_rn(float lo, float hi)
{
    __half2 r; r.x = __float2half_rn(lo); r.y = __float2half_rn(hi); return r;
}
__device__ __forceinline__ float2 __half22float2(__half2 h) { return make_float2(__half2float(h.x), __half2float(h.y)); }
__device__ __forceinline__ float __low2float(__half2 h) { return __half2float(h.x); }
__device__ __forceinline__ float __high2float(__half2 h) { return __half2float(h.y); }

#endif // SPECEE_CUDASIM

// Marks a kernel for the simulator's registry (cudasim defines it to register a launch trampoline);
// on the GPU the extern "C" symbol is found by cuModuleGetFunction, so it expands to nothing.
#ifndef SPECEE_REGISTER_KERNEL
#define SPECEE_REGISTER_KERNEL(name)
#endif
