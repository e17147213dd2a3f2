// Device-side built-ins for simulated kernels: threadIdx & co., barriers, warp collectives, atomics.
// Math intrinsics live in math_functions.h.
#pragma once

#include <cstdint>
#include <cstring>
#include <type_traits>

#include "runtime_hooks.h"
#include "vector_types.h"

namespace cudasim::detail {
inline uint3 builtin_thread_idx() { return current_thread().thread_idx; }
inline uint3 builtin_block_idx() { return current_thread().block->block_idx; }
inline dim3 builtin_block_dim() { return dim3(current_thread().block->block_dim); }
inline dim3 builtin_grid_dim() { return dim3(current_thread().block->grid_dim); }
inline unsigned lane_id() { return current_thread().lane; }

// Pointer to the block's dynamic shared memory. `extern __shared__ T name[];` is rewritten by the build
// into SPECEE_CUDASIM_DYNAMIC_SHARED(T, name) (see cmake/cudasim_translate.cmake).
template <typename T>
inline T* dynamic_shared_as() { return static_cast<T*>(current_thread().block->dynamic_shared); }

template <typename T>
inline uint64_t to_lane_bits(T value) {
    static_assert(sizeof(T) <= 8 && std::is_trivially_copyable_v<T>, "warp shuffles move at most 8 bytes");
    uint64_t bits = 0;
    std::memcpy(&bits, &value, sizeof(T));
    return bits;
}
template <typename T>
inline T from_lane_bits(uint64_t bits) {
    T value;
    std::memcpy(&value, &bits, sizeof(T));
    return value;
}
}  // namespace cudasim::detail

// Read-only values, like CUDA's (a kernel cannot assign to threadIdx).
#define threadIdx (::cudasim::detail::builtin_thread_idx())
#define blockIdx (::cudasim::detail::builtin_block_idx())
#define blockDim (::cudasim::detail::builtin_block_dim())
#define gridDim (::cudasim::detail::builtin_grid_dim())
constexpr int warpSize = 32;

// `__func__` only exists inside a function, so a namespace-scope `extern __shared__` fails to compile
// instead of silently binding to one block's memory at static-initialisation time.
#define SPECEE_CUDASIM_DYNAMIC_SHARED(T, name) \
    T* const name = ((void)sizeof(__func__), ::cudasim::detail::dynamic_shared_as<T>())

// ---- barriers ----------------------------------------------------------------------------------
inline void __syncthreads() { cudasim::detail::block_barrier(0, 0); }
inline int __syncthreads_count(int predicate) { return cudasim::detail::block_barrier(predicate != 0, 1); }
inline int __syncthreads_and(int predicate) { return cudasim::detail::block_barrier(predicate != 0, 2); }
inline int __syncthreads_or(int predicate) { return cudasim::detail::block_barrier(predicate != 0, 3); }
inline void __syncwarp(unsigned mask = 0xffffffffu) {
    cudasim::detail::warp_collective(mask, cudasim::detail::WarpOp::Sync, 0, 0);
}
// Memory is coherent on the host; fences only have to stop compiler/CPU reordering.
inline void __threadfence_block() { __atomic_signal_fence(__ATOMIC_SEQ_CST); }
inline void __threadfence() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
inline void __threadfence_system() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
[[noreturn]] inline void __trap() { cudasim::detail::trap("__trap()"); }

// ---- warp collectives --------------------------------------------------------------------------
// Divergence is not modelled: every lane that exists counts as active.
inline unsigned __activemask() { return cudasim::detail::current_thread().active_mask; }

template <typename T>
inline T __shfl_sync(unsigned mask, T var, int srcLane, int width = warpSize) {
    const unsigned lane = cudasim::detail::lane_id();
    const unsigned segment = lane & ~static_cast<unsigned>(width - 1);
    const unsigned src = segment + (static_cast<unsigned>(srcLane) & static_cast<unsigned>(width - 1));
    return cudasim::detail::from_lane_bits<T>(cudasim::detail::warp_collective(
        mask, cudasim::detail::WarpOp::Shuffle, cudasim::detail::to_lane_bits(var), src));
}
template <typename T>
inline T __shfl_up_sync(unsigned mask, T var, unsigned delta, int width = warpSize) {
    const unsigned lane = cudasim::detail::lane_id();
    const unsigned src = (lane & static_cast<unsigned>(width - 1)) < delta ? lane : lane - delta;
    return cudasim::detail::from_lane_bits<T>(cudasim::detail::warp_collective(
        mask, cudasim::detail::WarpOp::Shuffle, cudasim::detail::to_lane_bits(var), src));
}
template <typename T>
inline T __shfl_down_sync(unsigned mask, T var, unsigned delta, int width = warpSize) {
    const unsigned lane = cudasim::detail::lane_id();
    const unsigned inSegment = lane & static_cast<unsigned>(width - 1);
    const unsigned src = inSegment + delta >= static_cast<unsigned>(width) ? lane : lane + delta;
    return cudasim::detail::from_lane_bits<T>(cudasim::detail::warp_collective(
        mask, cudasim::detail::WarpOp::Shuffle, cudasim::detail::to_lane_bits(var), src));
}
// A lane may read from earlier width-groups but gets its own value when the XOR lands in a later one.
template <typename T>
inline T __shfl_xor_sync(unsigned mask, T var, int laneMask, int width = warpSize) {
    const unsigned lane = cudasim::detail::lane_id();
    const unsigned segmentEnd = (lane & ~static_cast<unsigned>(width - 1)) + static_cast<unsigned>(width);
    const unsigned target = lane ^ static_cast<unsigned>(laneMask);
    const unsigned src = target >= segmentEnd || target >= 32u ? lane : target;
    return cudasim::detail::from_lane_bits<T>(cudasim::detail::warp_collective(
        mask, cudasim::detail::WarpOp::Shuffle, cudasim::detail::to_lane_bits(var), src));
}
inline unsigned __ballot_sync(unsigned mask, int predicate) {
    return static_cast<unsigned>(
        cudasim::detail::warp_collective(mask, cudasim::detail::WarpOp::Ballot, predicate != 0, 0));
}
inline int __any_sync(unsigned mask, int predicate) { return __ballot_sync(mask, predicate) != 0; }
inline int __all_sync(unsigned mask, int predicate) {
    const unsigned participating = mask & __activemask();
    return (__ballot_sync(mask, predicate) & participating) == participating;
}
inline unsigned __reduce_add_sync(unsigned mask, unsigned value) {
    return static_cast<unsigned>(
        cudasim::detail::warp_collective(mask, cudasim::detail::WarpOp::ReduceAdd, value, 0));
}
inline int __reduce_add_sync(unsigned mask, int value) {
    return static_cast<int>(__reduce_add_sync(mask, static_cast<unsigned>(value)));
}
inline unsigned __reduce_min_sync(unsigned mask, unsigned value) {
    return static_cast<unsigned>(
        cudasim::detail::warp_collective(mask, cudasim::detail::WarpOp::ReduceMinU, value, 0));
}
inline unsigned __reduce_max_sync(unsigned mask, unsigned value) {
    return static_cast<unsigned>(
        cudasim::detail::warp_collective(mask, cudasim::detail::WarpOp::ReduceMaxU, value, 0));
}
inline int __reduce_min_sync(unsigned mask, int value) {
    return static_cast<int>(cudasim::detail::warp_collective(
        mask, cudasim::detail::WarpOp::ReduceMinS, static_cast<uint32_t>(value), 0));
}
inline int __reduce_max_sync(unsigned mask, int value) {
    return static_cast<int>(cudasim::detail::warp_collective(
        mask, cudasim::detail::WarpOp::ReduceMaxS, static_cast<uint32_t>(value), 0));
}

// ---- atomics (relaxed, like CUDA's; real atomics because blocks run on several OS threads) --------
#define SPECEE_CUDASIM_ATOMIC_INT(T)                                                                      \
    inline T atomicAdd(T* a, T v) { return __atomic_fetch_add(a, v, __ATOMIC_RELAXED); }                  \
    inline T atomicSub(T* a, T v) { return __atomic_fetch_sub(a, v, __ATOMIC_RELAXED); }                  \
    inline T atomicExch(T* a, T v) { return __atomic_exchange_n(a, v, __ATOMIC_RELAXED); }                \
    inline T atomicAnd(T* a, T v) { return __atomic_fetch_and(a, v, __ATOMIC_RELAXED); }                  \
    inline T atomicOr(T* a, T v) { return __atomic_fetch_or(a, v, __ATOMIC_RELAXED); }                    \
    inline T atomicXor(T* a, T v) { return __atomic_fetch_xor(a, v, __ATOMIC_RELAXED); }                  \
    inline T atomicCAS(T* a, T expected, T desired) {                                                     \
        __atomic_compare_exchange_n(a, &expected, desired, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED);    \
        return expected;                                                                                  \
    }                                                                                                     \
    inline T atomicMax(T* a, T v) {                                                                       \
        T old = __atomic_load_n(a, __ATOMIC_RELAXED);                                                     \
        while (old < v && !__atomic_compare_exchange_n(a, &old, v, true, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {} \
        return old;                                                                                       \
    }                                                                                                     \
    inline T atomicMin(T* a, T v) {                                                                       \
        T old = __atomic_load_n(a, __ATOMIC_RELAXED);                                                     \
        while (v < old && !__atomic_compare_exchange_n(a, &old, v, true, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {} \
        return old;                                                                                       \
    }
SPECEE_CUDASIM_ATOMIC_INT(int)
SPECEE_CUDASIM_ATOMIC_INT(unsigned int)
SPECEE_CUDASIM_ATOMIC_INT(unsigned long long)
SPECEE_CUDASIM_ATOMIC_INT(long long)
#undef SPECEE_CUDASIM_ATOMIC_INT

namespace cudasim::detail {
// Floating-point read-modify-write through a CAS on the bit pattern.
template <typename F, typename Bits, typename Op>
inline F atomic_float_rmw(F* address, Op op) {
    Bits* bits = reinterpret_cast<Bits*>(address);
    Bits old = __atomic_load_n(bits, __ATOMIC_RELAXED);
    for (;;) {
        F oldValue;
        std::memcpy(&oldValue, &old, sizeof(F));
        const F newValue = op(oldValue);
        Bits desired;
        std::memcpy(&desired, &newValue, sizeof(F));
        if (__atomic_compare_exchange_n(bits, &old, desired, true, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
            return oldValue;
    }
}
}  // namespace cudasim::detail

inline float atomicAdd(float* a, float v) {
    return cudasim::detail::atomic_float_rmw<float, uint32_t>(a, [v](float x) { return x + v; });
}
inline double atomicAdd(double* a, double v) {
    return cudasim::detail::atomic_float_rmw<double, uint64_t>(a, [v](double x) { return x + v; });
}
inline float atomicExch(float* a, float v) {
    return cudasim::detail::atomic_float_rmw<float, uint32_t>(a, [v](float) { return v; });
}
// CUDA's atomicInc/atomicDec wrap at `limit` rather than at 2^32.
inline unsigned atomicInc(unsigned* a, unsigned limit) {
    unsigned old = __atomic_load_n(a, __ATOMIC_RELAXED);
    while (!__atomic_compare_exchange_n(a, &old, old >= limit ? 0u : old + 1u, true, __ATOMIC_RELAXED,
                                        __ATOMIC_RELAXED)) {}
    return old;
}
inline unsigned atomicDec(unsigned* a, unsigned limit) {
    unsigned old = __atomic_load_n(a, __ATOMIC_RELAXED);
    while (!__atomic_compare_exchange_n(a, &old, (old == 0u || old > limit) ? limit : old - 1u, true,
                                        __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {}
    return old;
}

// ---- cache-hinted loads/stores: plain accesses on the host ----------------------------------------
template <typename T> inline T __ldg(const T* p) { return *p; }
template <typename T> inline T __ldcg(const T* p) { return *p; }
template <typename T> inline T __ldca(const T* p) { return *p; }
template <typename T> inline T __ldcs(const T* p) { return *p; }
template <typename T> inline T __ldlu(const T* p) { return *p; }
template <typename T> inline void __stcg(T* p, T v) { *p = v; }
template <typename T> inline void __stcs(T* p, T v) { *p = v; }
template <typename T> inline void __stwb(T* p, T v) { *p = v; }
