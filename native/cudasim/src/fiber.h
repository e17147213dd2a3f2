// Fibers: stacks allocated once and reused, and a minimal context switch.
//
// On x86-64 the switch is hand-written (saves the six callee-saved integer registers and the stack pointer,
// ~2 ns): ucontext's swapcontext also saves the signal mask with a system call, which made a first prototype
// spend most of its time in the kernel. Other architectures fall back to ucontext.
#pragma once

#include <cstddef>

// CUDASIM_PORTABLE_FIBERS forces the ucontext fallback on x86-64 too (to test it where it is not the default).
#if defined(__x86_64__) && !defined(CUDASIM_PORTABLE_FIBERS)
#define CUDASIM_ASM_FIBERS 1
#endif

#include "cudasim/runtime_hooks.h"

#if !defined(CUDASIM_ASM_FIBERS)
#include <ucontext.h>
#endif

namespace cudasim::detail {

// A fiber stack: a region of kFiberStackBytes aligned to its own size (so kernel code can find the
// ThreadRegisters record at its top from the stack pointer alone), with a PROT_NONE guard page at the bottom
// so an overflow faults instead of corrupting memory.
class FiberStack {
public:
    FiberStack();
    ~FiberStack();
    FiberStack(const FiberStack&) = delete;
    FiberStack& operator=(const FiberStack&) = delete;

    // The record at the top of the region; the usable stack lies below it.
    ThreadRegisters* registers() const;
    void* base() const { return region_; }

private:
    void* region_;
    unsigned valgrindStackId_ = 0;  // registration with valgrind, when built with its header
};

// A suspended execution context.
struct FiberContext {
#if defined(CUDASIM_ASM_FIBERS)
    void* stackPointer = nullptr;
#else
    ucontext_t context;
#endif
};

// Prepares `context` so that switching to it calls entry(arg) on `stack`. entry must never return.
void make_fiber_context(FiberContext& context, FiberStack& stack, void (*entry)(void*), void* arg);

// Suspends the running context into `from` and resumes `to`.
#if defined(CUDASIM_ASM_FIBERS)
extern "C" void cudasim_fiber_switch(void** saveStackPointer, void* resumeStackPointer);
inline void switch_fiber_context(FiberContext& from, FiberContext& to) {
    cudasim_fiber_switch(&from.stackPointer, to.stackPointer);
}
#else
void switch_fiber_context(FiberContext& from, FiberContext& to);
#endif

}  // namespace cudasim::detail
