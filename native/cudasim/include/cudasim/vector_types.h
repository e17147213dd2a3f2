// CUDA built-in vector types (float2/float4/int4/uint4/..., dim3) and their make_* constructors, with the
// same sizes and alignments as CUDA's vector_types.h so structs shared between host and kernels lay out
// identically (float4/int4/uint4 are 16-byte aligned: kernels rely on that for 128-bit loads).
#pragma once

#include <cstdint>

#define SPECEE_CUDASIM_VEC2(T, name, align) \
    struct alignas(align) name { T x, y; }; \
    inline name make_##name(T x, T y) { return name{x, y}; }
#define SPECEE_CUDASIM_VEC3(T, name) \
    struct name { T x, y, z; }; \
    inline name make_##name(T x, T y, T z) { return name{x, y, z}; }
#define SPECEE_CUDASIM_VEC4(T, name, align) \
    struct alignas(align) name { T x, y, z, w; }; \
    inline name make_##name(T x, T y, T z, T w) { return name{x, y, z, w}; }

SPECEE_CUDASIM_VEC2(float, float2, 8)
SPECEE_CUDASIM_VEC3(float, float3)
SPECEE_CUDASIM_VEC4(float, float4, 16)
SPECEE_CUDASIM_VEC2(double, double2, 16)
SPECEE_CUDASIM_VEC2(int, int2, 8)
SPECEE_CUDASIM_VEC3(int, int3)
SPECEE_CUDASIM_VEC4(int, int4, 16)
SPECEE_CUDASIM_VEC2(unsigned int, uint2, 8)
SPECEE_CUDASIM_VEC3(unsigned int, uint3)
SPECEE_CUDASIM_VEC4(unsigned int, uint4, 16)
SPECEE_CUDASIM_VEC2(signed char, char2, 2)
SPECEE_CUDASIM_VEC4(signed char, char4, 4)
SPECEE_CUDASIM_VEC2(unsigned char, uchar2, 2)
SPECEE_CUDASIM_VEC4(unsigned char, uchar4, 4)
SPECEE_CUDASIM_VEC2(short, short2, 4)
SPECEE_CUDASIM_VEC4(short, short4, 8)
SPECEE_CUDASIM_VEC2(unsigned short, ushort2, 4)
SPECEE_CUDASIM_VEC4(unsigned short, ushort4, 8)
SPECEE_CUDASIM_VEC2(long long, longlong2, 16)
SPECEE_CUDASIM_VEC2(unsigned long long, ulonglong2, 16)

#undef SPECEE_CUDASIM_VEC2
#undef SPECEE_CUDASIM_VEC3
#undef SPECEE_CUDASIM_VEC4

// dim3: unspecified components default to 1, as in CUDA.
struct dim3 {
    unsigned int x, y, z;
    constexpr dim3(unsigned int vx = 1, unsigned int vy = 1, unsigned int vz = 1) : x(vx), y(vy), z(vz) {}
    constexpr dim3(uint3 v) : x(v.x), y(v.y), z(v.z) {}
    constexpr operator uint3() const { return uint3{x, y, z}; }
};

static_assert(sizeof(float4) == 16 && alignof(float4) == 16, "float4 must match CUDA's layout");
static_assert(sizeof(uint4) == 16 && alignof(uint4) == 16, "uint4 must match CUDA's layout");
static_assert(sizeof(float2) == 8 && alignof(float2) == 8, "float2 must match CUDA's layout");
static_assert(sizeof(uint3) == 12, "uint3 must match CUDA's layout");
