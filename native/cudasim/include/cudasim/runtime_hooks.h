// The narrow interface between kernel code (compiled with cudasim.h) and the simulator runtime.
//
// Kernels never see fibers or workers. They find the built-in variables of the running thread without
// thread-local storage: every fiber stack is a power-of-two-sized, equally aligned region whose top holds a
// ThreadRegisters record, so `stack pointer & ~(size − 1)` locates it in a few instructions. (A TLS lookup
// costs a __tls_get_addr call in a shared library and would have to be rewritten on every fiber switch.)
#pragma once

#include <cstdint>

#include "vector_types.h"

#define SPECEE_CUDASIM_HIDDEN __attribute__((visibility("hidden")))

namespace cudasim::detail {

// Per block, owned by the worker running it.
struct BlockRegisters {
    uint3 block_idx;         // blockIdx
    uint3 block_dim;         // blockDim
    uint3 grid_dim;          // gridDim
    void* dynamic_shared;    // base of `extern __shared__` memory, 256-byte aligned
};

// Per fiber, at the top of its stack; rewritten when the fiber starts the next thread.
struct alignas(64) ThreadRegisters {
    uint3 thread_idx;              // threadIdx
    unsigned lane;                 // linear thread id % 32
    unsigned active_mask;          // lanes that exist in this thread's warp (a partial last warp has fewer)
    const BlockRegisters* block;   // the block the fiber's worker is running
    void* runner;                  // the BlockRunner owning the fiber
    void* carrier;                 // the fiber itself
};

// Every fiber stack is a region of this size aligned to it. A compile-time constant so that finding the
// running fiber's ThreadRegisters is a handful of register operations. GPU threads get far less stack.
constexpr unsigned kFiberStackShift = 17;
constexpr uintptr_t kFiberStackBytes = uintptr_t{1} << kFiberStackShift;  // 128 KiB

// Address of the ThreadRegisters of the fiber stack starting at `base`: near the top, lowered by a
// per-stack "colour" (0..255 records). Without it every record and every saved context would sit at the
// same offset modulo the stack size, i.e. in the same cache set, and hundreds of fibers would thrash it.
inline uintptr_t fiber_registers_address(uintptr_t base) {
    const uintptr_t colour = (base >> kFiberStackShift) & 255u;
    return base + kFiberStackBytes - (colour + 1) * sizeof(ThreadRegisters);
}

inline ThreadRegisters& current_thread() {
    uintptr_t sp;
#if defined(__x86_64__)
    asm("movq %%rsp, %0" : "=r"(sp));
#else
    sp = reinterpret_cast<uintptr_t>(__builtin_frame_address(0));
#endif
    return *reinterpret_cast<ThreadRegisters*>(fiber_registers_address(sp & ~(kFiberStackBytes - 1)));
}

// What a warp collective computes once every lane of its mask has arrived.
enum class WarpOp : unsigned {
    Sync,        // __syncwarp: no data
    Shuffle,     // result = value of lane `arg` (own value when `arg` is not in the mask)
    Ballot,      // result = mask of lanes whose value != 0
    ReduceAdd,   // result = sum of values (u32, wrapping)
    ReduceMinU,  // result = min of values as unsigned
    ReduceMaxU,  // result = max of values as unsigned
    ReduceMinS,  // result = min of values as signed int
    ReduceMaxS,  // result = max of values as signed int
};

// Block barrier (__syncthreads family). kind: 0 = plain, 1 = count, 2 = and, 3 = or.
// Returns the reduced predicate for kinds 1..3.
SPECEE_CUDASIM_HIDDEN int block_barrier(int predicate, int kind);

// Warp collective over the lanes in `mask` (intersected with the lanes that exist; the caller's lane is
// always included). Blocks the calling fiber until every lane in the mask has called it.
SPECEE_CUDASIM_HIDDEN uint64_t warp_collective(unsigned mask, WarpOp op, uint64_t value, unsigned arg);

// Aborts the process with the thread coordinates (used by __trap()).
[[noreturn]] SPECEE_CUDASIM_HIDDEN void trap(const char* what);

}  // namespace cudasim::detail
