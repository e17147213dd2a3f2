// __half / half / __half2 for kernels compiled with the simulator.
//
// Storage is the IEEE binary16 bit pattern, so buffers written by the host as fp16 bits are read unchanged.
// Conversions round to nearest, ties to even (CUDA's __float2half / __float2half_rn), handle subnormals,
// overflow to ±inf, and map NaN to the canonical quiet NaN 0x7fff (CUDA's choice). Arithmetic is done in
// fp32 and rounded once, which equals native fp16 arithmetic for + - * / (fp32 has more than 2·11+2 bits).
#pragma once

#include <cstdint>
#include <cstring>

#include "vector_types.h"

namespace cudasim::detail {

inline uint32_t float_bits(float f) { uint32_t u; std::memcpy(&u, &f, 4); return u; }
inline float bits_float(uint32_t u) { float f; std::memcpy(&f, &u, 4); return f; }

// fp32 → fp16 bits, round to nearest even.
inline unsigned short float_to_half_bits_rn(float value) {
    const uint32_t bits = float_bits(value);
    const uint32_t sign = (bits >> 16) & 0x8000u;
    const uint32_t magnitude = bits & 0x7fffffffu;
    if (magnitude > 0x7f800000u) return 0x7fffu;                                   // NaN (canonical)
    if (magnitude >= 0x477ff000u) return static_cast<unsigned short>(sign | 0x7c00u); // ≥ 65520 (or inf) → inf
    if (magnitude >= 0x38800000u) {                                                 // normal half (≥ 2^-14)
        uint32_t half = (magnitude - 0x38000000u) >> 13;                           // rebias 127 → 15
        const uint32_t rest = magnitude & 0x1fffu;
        if (rest > 0x1000u || (rest == 0x1000u && (half & 1u))) ++half;             // may carry into exponent
        return static_cast<unsigned short>(sign | half);
    }
    if (magnitude < 0x33000000u) return static_cast<unsigned short>(sign);         // < 2^-25 → ±0
    // Subnormal half: value / 2^-24 rounded; the fp32 significand with its implicit bit shifted right.
    const uint32_t exponent = magnitude >> 23;                                      // 102..112
    const uint32_t significand = (magnitude & 0x7fffffu) | 0x800000u;
    const uint32_t shift = 126u - exponent;                                         // 14..24
    uint32_t half = significand >> shift;
    const uint32_t rest = significand & ((1u << shift) - 1u);
    const uint32_t midpoint = 1u << (shift - 1u);
    if (rest > midpoint || (rest == midpoint && (half & 1u))) ++half;               // 0x400 = smallest normal
    return static_cast<unsigned short>(sign | half);
}

// fp16 bits → fp32 (exact).
inline float half_bits_to_float(unsigned short h) {
    const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
    const uint32_t exponent = (h >> 10) & 0x1fu;
    const uint32_t mantissa = h & 0x3ffu;
    if (exponent == 0x1fu) return bits_float(sign | 0x7f800000u | (mantissa << 13));
    if (exponent != 0) return bits_float(sign | ((exponent + 112u) << 23) | (mantissa << 13));
    const float subnormal = static_cast<float>(mantissa) * 5.9604644775390625e-8f;   // mantissa · 2^-24
    return sign ? -subnormal : subnormal;
}

}  // namespace cudasim::detail

struct __half_raw { unsigned short x; };

struct __half {
    unsigned short __x;  // binary16 bits; the member name matches cuda_fp16.h
    __half() = default;  // trivial, so `__shared__ __half s[N]` needs no per-thread constructor
    constexpr __half(__half_raw raw) : __x(raw.x) {}
    __half(float f) : __x(cudasim::detail::float_to_half_bits_rn(f)) {}
    __half(double d) : __half(static_cast<float>(d)) {}
    __half(int i) : __half(static_cast<float>(i)) {}
    operator float() const { return cudasim::detail::half_bits_to_float(__x); }
    operator __half_raw() const { return __half_raw{__x}; }
};
typedef __half half;

struct alignas(4) __half2 {
    __half x, y;
    __half2() = default;
    constexpr __half2(__half a, __half b) : x(a), y(b) {}
};
typedef __half2 half2;

static_assert(sizeof(__half) == 2 && sizeof(__half2) == 4, "half types must match CUDA's layout");

// ---- conversions ---------------------------------------------------------------------------------
inline float __half2float(__half h) { return cudasim::detail::half_bits_to_float(h.__x); }
inline __half __float2half(float f) { return __half_raw{cudasim::detail::float_to_half_bits_rn(f)}; }
inline __half __float2half_rn(float f) { return __float2half(f); }
inline __half2 __float2half2_rn(float f) { return __half2(__float2half(f), __float2half(f)); }
inline __half2 __floats2half2_rn(float a, float b) { return __half2(__float2half(a), __float2half(b)); }
inline __half2 __halves2half2(__half a, __half b) { return __half2(a, b); }
inline __half2 __half2half2(__half a) { return __half2(a, a); }
inline float2 __half22float2(__half2 h) { return float2{__half2float(h.x), __half2float(h.y)}; }
inline __half2 __float22half2_rn(float2 f) { return __floats2half2_rn(f.x, f.y); }
inline float __low2float(__half2 h) { return __half2float(h.x); }
inline float __high2float(__half2 h) { return __half2float(h.y); }
inline __half __low2half(__half2 h) { return h.x; }
inline __half __high2half(__half2 h) { return h.y; }
inline unsigned short __half_as_ushort(__half h) { return h.__x; }
inline __half __ushort_as_half(unsigned short u) { return __half_raw{u}; }
inline short __half_as_short(__half h) { return static_cast<short>(h.__x); }
inline __half __short_as_half(short s) { return __half_raw{static_cast<unsigned short>(s)}; }

// ---- arithmetic (fp32 compute, one rounding) ------------------------------------------------------
inline __half __hadd(__half a, __half b) { return __float2half(__half2float(a) + __half2float(b)); }
inline __half __hsub(__half a, __half b) { return __float2half(__half2float(a) - __half2float(b)); }
inline __half __hmul(__half a, __half b) { return __float2half(__half2float(a) * __half2float(b)); }
inline __half __hdiv(__half a, __half b) { return __float2half(__half2float(a) / __half2float(b)); }
inline __half __hneg(__half a) { return __half_raw{static_cast<unsigned short>(a.__x ^ 0x8000u)}; }
// fma: the product of two halves is exact in fp32; the sum is rounded once in fp64 before fp16.
inline __half __hfma(__half a, __half b, __half c) {
    const double exact = static_cast<double>(__half2float(a)) * __half2float(b) + __half2float(c);
    return __float2half(static_cast<float>(exact));
}
inline __half __hmax(__half a, __half b) { return __half2float(a) < __half2float(b) ? b : a; }
inline __half __hmin(__half a, __half b) { return __half2float(b) < __half2float(a) ? b : a; }
inline bool __hisnan(__half a) { return (a.__x & 0x7fffu) > 0x7c00u; }
inline int __hisinf(__half a) { return (a.__x & 0x7fffu) == 0x7c00u ? ((a.__x & 0x8000u) ? -1 : 1) : 0; }
inline __half2 __hadd2(__half2 a, __half2 b) { return __half2(__hadd(a.x, b.x), __hadd(a.y, b.y)); }
inline __half2 __hsub2(__half2 a, __half2 b) { return __half2(__hsub(a.x, b.x), __hsub(a.y, b.y)); }
inline __half2 __hmul2(__half2 a, __half2 b) { return __half2(__hmul(a.x, b.x), __hmul(a.y, b.y)); }
inline __half2 __hfma2(__half2 a, __half2 b, __half2 c) {
    return __half2(__hfma(a.x, b.x, c.x), __hfma(a.y, b.y, c.y));
}

inline __half operator+(__half a, __half b) { return __hadd(a, b); }
inline __half operator-(__half a, __half b) { return __hsub(a, b); }
inline __half operator*(__half a, __half b) { return __hmul(a, b); }
inline __half operator/(__half a, __half b) { return __hdiv(a, b); }
inline __half operator-(__half a) { return __hneg(a); }
inline __half& operator+=(__half& a, __half b) { return a = __hadd(a, b); }
inline __half& operator*=(__half& a, __half b) { return a = __hmul(a, b); }
inline bool operator==(__half a, __half b) { return __half2float(a) == __half2float(b); }
inline bool operator!=(__half a, __half b) { return __half2float(a) != __half2float(b); }
inline bool operator<(__half a, __half b) { return __half2float(a) < __half2float(b); }
inline bool operator>(__half a, __half b) { return __half2float(a) > __half2float(b); }
inline bool operator<=(__half a, __half b) { return __half2float(a) <= __half2float(b); }
inline bool operator>=(__half a, __half b) { return __half2float(a) >= __half2float(b); }
inline __half2 operator+(__half2 a, __half2 b) { return __hadd2(a, b); }
inline __half2 operator*(__half2 a, __half2 b) { return __hmul2(a, b); }
