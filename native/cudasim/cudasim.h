// cudasim.h — what a .cu kernel sees when it is compiled as C++ for the CPU simulator (-DSPECEE_CUDASIM).
//
// Kernels include "specee_prelude.cuh"; under SPECEE_CUDASIM that shim includes this file, under NVRTC the
// in-memory prelude of the CUDA backend defines the same names. The supported subset is listed in
// native/cudasim/README.md; anything outside it fails to compile here rather than misbehave.
//
// Execution model in one paragraph: every thread of a block is a fiber on one OS worker thread; blocks of a
// grid are spread over the worker threads, one block at a time per worker. Hence `__shared__` can be a
// per-OS-thread static: all fibers of a block see the same storage, blocks on other workers see their own.
// A barrier or warp collective switches to the next runnable fiber of the same block.
#pragma once

#ifndef SPECEE_CUDASIM
#error "cudasim.h is for kernels compiled with -DSPECEE_CUDASIM"
#endif

#include <cstddef>
#include <cstdint>
#include <cstdio>

#include "cudasim/vector_types.h"
#include "cudasim/half.h"
#include "cudasim/runtime_hooks.h"
#include "cudasim/device_functions.h"
#include "cudasim/math_functions.h"
#include "cudasim/kernel_registry.h"

// ---- execution-space and storage qualifiers ----------------------------------------------------------
#define __global__
#define __device__
#define __host__
#define __noinline__ __attribute__((noinline))
#define __forceinline__ inline __attribute__((always_inline))
#define __restrict__ __restrict
#define __align__(n) alignas(n)
#define __launch_bounds__(...)
#define __grid_constant__
// __constant__ data is initialised in the source; the host cannot write it through this simulator.
#define __constant__ const
// One instance per OS thread = per running block (see the paragraph above). Implicitly static at block
// scope. `extern __shared__ T name[];` is rewritten at build time, see SPECEE_CUDASIM_DYNAMIC_SHARED.
#define __shared__ thread_local

#define CUDART_INF_F __builtin_huge_valf()
#define CUDART_NAN_F __builtin_nanf("")
