// The narrow interface between kernel code (compiled with cudasim.h) and the simulator runtime.
//
// Kernels never see fibers or workers. They read the built-in variables from `t_regs`, a per-OS-thread
// record that the block scheduler rewrites on every fiber switch (a fiber never migrates between OS
// threads, so reading it through a cached TLS address is always correct), and they call the runtime
// for the few operations that need other threads: block barriers and warp collectives.
#pragma once

#include <cstdint>

#include "vector_types.h"

#define SPECEE_CUDASIM_HIDDEN __attribute__((visibility("hidden")))

namespace cudasim::detail {

// Built-in variables of the thread that is currently running on this OS thread.
struct ThreadRegisters {
    uint3 thread_idx;        // threadIdx
    uint3 block_idx;         // blockIdx
    uint3 block_dim;         // blockDim
    uint3 grid_dim;          // gridDim
    unsigned lane;           // linear thread id % 32
    unsigned active_mask;    // lanes that exist in this thread's warp (a partial last warp has fewer)
    void* dynamic_shared;    // base of `extern __shared__` memory of the current block, 256-byte aligned
};

// __thread (not thread_local): the type is trivial, so no TLS init wrapper call on every access.
extern __thread ThreadRegisters t_regs SPECEE_CUDASIM_HIDDEN;

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

// Aborts the process with the kernel name and thread coordinates (used by __trap()).
[[noreturn]] SPECEE_CUDASIM_HIDDEN void trap(const char* what);

}  // namespace cudasim::detail
