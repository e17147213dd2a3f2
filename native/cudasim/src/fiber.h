// Fibers: stacks allocated once and reused, and a minimal context switch.
//
// On x86-64 the switch is hand-written (saves the six callee-saved integer registers and the stack pointer,
// ~2 ns): ucontext's swapcontext also saves the signal mask with a system call, which made a first prototype
// spend most of its time in the kernel. Other architectures fall back to ucontext.
#pragma once

#include <cstddef>

#if !defined(__x86_64__)
#include <ucontext.h>
#endif

namespace cudasim::detail {

// A fiber stack with a PROT_NONE guard page below it, so an overflow faults instead of corrupting memory.
class FiberStack {
public:
    explicit FiberStack(std::size_t bytes);
    ~FiberStack();
    FiberStack(const FiberStack&) = delete;
    FiberStack& operator=(const FiberStack&) = delete;

    void* base() const { return usable_; }
    std::size_t size() const { return usableBytes_; }

private:
    void* mapping_;
    std::size_t mappingBytes_;
    void* usable_;
    std::size_t usableBytes_;
};

// A suspended execution context.
struct FiberContext {
#if defined(__x86_64__)
    void* stackPointer = nullptr;
#else
    ucontext_t context;
#endif
};

// Prepares `context` so that switching to it calls entry(arg) on `stack`. entry must never return.
void make_fiber_context(FiberContext& context, FiberStack& stack, void (*entry)(void*), void* arg);

// Suspends the running context into `from` and resumes `to`.
void switch_fiber_context(FiberContext& from, FiberContext& to);

// Stack size for new fibers: SPECEE_CUDASIM_STACK_KB (default 128 KiB; GPU threads have far less).
std::size_t fiber_stack_bytes();

}  // namespace cudasim::detail
