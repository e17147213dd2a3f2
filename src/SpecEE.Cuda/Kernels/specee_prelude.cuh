// specee_prelude.cuh — the only header our kernels include.
//
// NVRTC is given this text in memory (nvrtcCreateProgram headers/includeNames), so kernels build with
// no CUDA toolkit headers installed. NVRTC already provides, without any include:
//   threadIdx/blockIdx/blockDim/gridDim, __syncthreads, __shfl_*_sync, atomics, the vector types
//   (float2/float4/int4/uint4/... and make_*), __float_as_int & co.
// It lacks <stdint.h> and cuda_fp16.h; this prelude supplies what we use of them.
//
// Under SPECEE_CUDASIM (g++ building native/cudasim) the simulator's cudasim.h provides the same names
// for the CPU (the simulator build puts its own specee_prelude.cuh first on the include path; this file's
// SPECEE_CUDASIM branch covers builds that find this one).
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

// ---- half precision --------------------------------------------------------------------------------
// The same surface as native/cudasim/include/cudasim/half.h (member __x, __half_raw, constructors from
// float/double/int, operator float, the conversion and arithmetic intrinsics below), so a kernel that
// compiles in one compiles in the other. Conversions are cvt.rn (round to nearest even; NaN → 0x7fff).
// + - * and fma use the native f16 instructions, which round once, exactly like the simulator's
// "fp32 then round" for + - * (fp32 has ≥ 2·11+2 significand bits); / goes through fp32 in both.
struct __half_raw { unsigned short x; };

__device__ __forceinline__ unsigned short specee_f32_to_f16_bits(float f)
{
    unsigned short u;
    asm("cvt.rn.f16.f32 %0, %1;" : "=h"(u) : "f"(f));
    return u;
}
__device__ __forceinline__ float specee_f16_bits_to_f32(unsigned short u)
{
    float f;
    asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(u));
    return f;
}

struct __align__(2) __half {
    unsigned short __x; // binary16 bits (member name as in cuda_fp16.h)
    __half() = default; // trivial, so __shared__ arrays of __half need no constructor
    __device__ constexpr __half(__half_raw raw) : __x(raw.x) {}
    __device__ __half(float f) : __x(specee_f32_to_f16_bits(f)) {}
    __device__ __half(double d) : __x(specee_f32_to_f16_bits(static_cast<float>(d))) {}
    __device__ __half(int i) : __x(specee_f32_to_f16_bits(static_cast<float>(i))) {}
    __device__ operator float() const { return specee_f16_bits_to_f32(__x); }
    __device__ operator __half_raw() const { __half_raw r; r.x = __x; return r; }
};
typedef __half half;

struct __align__(4) __half2 {
    __half x, y; // x is the low 16 bits, as in CUDA
    __half2() = default;
    __device__ constexpr __half2(__half a, __half b) : x(a), y(b) {}
};
typedef __half2 half2;

static_assert(sizeof(__half) == 2 && sizeof(__half2) == 4, "half types must match CUDA's layout");

// ---- conversions ----
__device__ __forceinline__ unsigned short __half_as_ushort(__half h) { return h.__x; }
__device__ __forceinline__ __half __ushort_as_half(unsigned short u) { __half_raw r; r.x = u; return __half(r); }
__device__ __forceinline__ short __half_as_short(__half h) { return static_cast<short>(h.__x); }
__device__ __forceinline__ __half __short_as_half(short s) { return __ushort_as_half(static_cast<unsigned short>(s)); }
__device__ __forceinline__ __half __float2half_rn(float f) { return __ushort_as_half(specee_f32_to_f16_bits(f)); }
__device__ __forceinline__ __half __float2half(float f) { return __float2half_rn(f); }
__device__ __forceinline__ float __half2float(__half h) { return specee_f16_bits_to_f32(h.__x); }
__device__ __forceinline__ __half2 __floats2half2_rn(float a, float b) { return __half2(__float2half_rn(a), __float2half_rn(b)); }
__device__ __forceinline__ __half2 __float2half2_rn(float f) { return __floats2half2_rn(f, f); }
__device__ __forceinline__ __half2 __float22half2_rn(float2 f) { return __floats2half2_rn(f.x, f.y); }
__device__ __forceinline__ __half2 __halves2half2(__half a, __half b) { return __half2(a, b); }
__device__ __forceinline__ __half2 __half2half2(__half a) { return __half2(a, a); }
__device__ __forceinline__ float2 __half22float2(__half2 h) { return make_float2(__half2float(h.x), __half2float(h.y)); }
__device__ __forceinline__ float __low2float(__half2 h) { return __half2float(h.x); }
__device__ __forceinline__ float __high2float(__half2 h) { return __half2float(h.y); }
__device__ __forceinline__ __half __low2half(__half2 h) { return h.x; }
__device__ __forceinline__ __half __high2half(__half2 h) { return h.y; }

// ---- arithmetic ----
#define SPECEE_F16_BINARY(name, op)                                                          \
    __device__ __forceinline__ __half name(__half a, __half b)                               \
    {                                                                                        \
        unsigned short r;                                                                    \
        asm(op " %0, %1, %2;" : "=h"(r) : "h"(a.__x), "h"(b.__x));                           \
        return __ushort_as_half(r);                                                          \
    }
SPECEE_F16_BINARY(__hadd, "add.rn.f16")
SPECEE_F16_BINARY(__hsub, "sub.rn.f16")
SPECEE_F16_BINARY(__hmul, "mul.rn.f16")
#undef SPECEE_F16_BINARY
__device__ __forceinline__ __half __hdiv(__half a, __half b) { return __float2half_rn(__half2float(a) / __half2float(b)); }
__device__ __forceinline__ __half __hneg(__half a) { return __ushort_as_half(static_cast<unsigned short>(a.__x ^ 0x8000u)); }
__device__ __forceinline__ __half __hfma(__half a, __half b, __half c)
{
    unsigned short r;
    asm("fma.rn.f16 %0, %1, %2, %3;" : "=h"(r) : "h"(a.__x), "h"(b.__x), "h"(c.__x));
    return __ushort_as_half(r);
}
__device__ __forceinline__ __half __hmax(__half a, __half b) { return __half2float(a) < __half2float(b) ? b : a; }
__device__ __forceinline__ __half __hmin(__half a, __half b) { return __half2float(b) < __half2float(a) ? b : a; }
__device__ __forceinline__ bool __hisnan(__half a) { return (a.__x & 0x7fffu) > 0x7c00u; }
__device__ __forceinline__ int __hisinf(__half a) { return (a.__x & 0x7fffu) == 0x7c00u ? ((a.__x & 0x8000u) ? -1 : 1) : 0; }
__device__ __forceinline__ __half2 __hadd2(__half2 a, __half2 b) { return __half2(__hadd(a.x, b.x), __hadd(a.y, b.y)); }
__device__ __forceinline__ __half2 __hsub2(__half2 a, __half2 b) { return __half2(__hsub(a.x, b.x), __hsub(a.y, b.y)); }
__device__ __forceinline__ __half2 __hmul2(__half2 a, __half2 b) { return __half2(__hmul(a.x, b.x), __hmul(a.y, b.y)); }
__device__ __forceinline__ __half2 __hfma2(__half2 a, __half2 b, __half2 c)
{
    return __half2(__hfma(a.x, b.x, c.x), __hfma(a.y, b.y, c.y));
}

__device__ __forceinline__ __half operator+(__half a, __half b) { return __hadd(a, b); }
__device__ __forceinline__ __half operator-(__half a, __half b) { return __hsub(a, b); }
__device__ __forceinline__ __half operator*(__half a, __half b) { return __hmul(a, b); }
__device__ __forceinline__ __half operator/(__half a, __half b) { return __hdiv(a, b); }
__device__ __forceinline__ __half operator-(__half a) { return __hneg(a); }
__device__ __forceinline__ __half& operator+=(__half& a, __half b) { return a = __hadd(a, b); }
__device__ __forceinline__ __half& operator*=(__half& a, __half b) { return a = __hmul(a, b); }
__device__ __forceinline__ bool operator==(__half a, __half b) { return __half2float(a) == __half2float(b); }
__device__ __forceinline__ bool operator!=(__half a, __half b) { return __half2float(a) != __half2float(b); }
__device__ __forceinline__ bool operator<(__half a, __half b) { return __half2float(a) < __half2float(b); }
__device__ __forceinline__ bool operator>(__half a, __half b) { return __half2float(a) > __half2float(b); }
__device__ __forceinline__ bool operator<=(__half a, __half b) { return __half2float(a) <= __half2float(b); }
__device__ __forceinline__ bool operator>=(__half a, __half b) { return __half2float(a) >= __half2float(b); }
__device__ __forceinline__ __half2 operator+(__half2 a, __half2 b) { return __hadd2(a, b); }
__device__ __forceinline__ __half2 operator*(__half2 a, __half2 b) { return __hmul2(a, b); }

#endif // SPECEE_CUDASIM

// Marks a kernel for the simulator's registry (cudasim defines it to register a launch trampoline);
// on the GPU the extern "C" symbol is found by cuModuleGetFunction, so it expands to nothing.
#ifndef SPECEE_REGISTER_KERNEL
#define SPECEE_REGISTER_KERNEL(name)
#endif
