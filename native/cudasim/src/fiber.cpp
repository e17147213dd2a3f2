#include "fiber.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <new>

// Registering fiber stacks lets `valgrind --tool=memcheck` check kernels run by the simulator (a CPU
// "compute-sanitizer"); without it every fiber switch looks like a wild stack-pointer jump.
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define CUDASIM_VALGRIND 1
#endif

namespace cudasim::detail {

namespace {
std::size_t page_bytes() {
    static const std::size_t bytes = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
    return bytes;
}
}  // namespace

FiberStack::FiberStack() {
    const std::size_t size = kFiberStackBytes;
    // Map twice the size and keep the aligned half. MAP_NORESERVE: only touched pages (usually one or two
    // at the top) cost memory.
    void* mapping = mmap(nullptr, 2 * size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                         -1, 0);
    if (mapping == MAP_FAILED) throw std::bad_alloc();
    const auto start = reinterpret_cast<std::uintptr_t>(mapping);
    const std::uintptr_t aligned = (start + size - 1) & ~static_cast<std::uintptr_t>(size - 1);
    if (aligned > start) munmap(mapping, aligned - start);
    if (aligned + size < start + 2 * size) munmap(reinterpret_cast<void*>(aligned + size), start + 2 * size - aligned - size);
    region_ = reinterpret_cast<void*>(aligned);
    mprotect(region_, page_bytes(), PROT_NONE);
#ifdef CUDASIM_VALGRIND
    valgrindStackId_ = VALGRIND_STACK_REGISTER(static_cast<char*>(region_) + page_bytes(), registers());
#endif
}

FiberStack::~FiberStack() {
#ifdef CUDASIM_VALGRIND
    VALGRIND_STACK_DEREGISTER(valgrindStackId_);
#endif
    munmap(region_, kFiberStackBytes);
}

ThreadRegisters* FiberStack::registers() const {
    return reinterpret_cast<ThreadRegisters*>(fiber_registers_address(reinterpret_cast<uintptr_t>(region_)));
}

#if defined(CUDASIM_ASM_FIBERS)

// switch: push callee-saved registers, save rsp into *from, load rsp from to, pop, return into `to`.
// bootstrap: first code a fresh fiber runs; r12 = arg, r13 = entry (placed there by make_fiber_context).
// MXCSR and the x87 control word are not saved: nothing running on fibers changes them.
asm(R"(
    .text
    .p2align 4
    .globl cudasim_fiber_switch
    .hidden cudasim_fiber_switch
    .type cudasim_fiber_switch, @function
cudasim_fiber_switch:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
    .size cudasim_fiber_switch, .-cudasim_fiber_switch

    .p2align 4
    .globl cudasim_fiber_bootstrap
    .hidden cudasim_fiber_bootstrap
    .type cudasim_fiber_bootstrap, @function
cudasim_fiber_bootstrap:
    movq %r12, %rdi
    callq *%r13
    ud2
    .size cudasim_fiber_bootstrap, .-cudasim_fiber_bootstrap
)");

extern "C" void cudasim_fiber_bootstrap();

void make_fiber_context(FiberContext& context, FiberStack& stack, void (*entry)(void*), void* arg) {
    const auto top = reinterpret_cast<std::uintptr_t>(stack.registers());  // 64-byte aligned
    // Frame popped by cudasim_fiber_switch: r15 r14 r13 r12 rbx rbp, then the return address. After `ret`
    // rsp = top - 16, 16-byte aligned as the ABI requires before the bootstrap's `call`.
    auto* frame = reinterpret_cast<void**>(top - 72);
    frame[0] = nullptr;                                                  // r15
    frame[1] = nullptr;                                                  // r14
    frame[2] = reinterpret_cast<void*>(entry);                           // r13
    frame[3] = arg;                                                      // r12
    frame[4] = nullptr;                                                  // rbx
    frame[5] = nullptr;                                                  // rbp
    frame[6] = reinterpret_cast<void*>(&cudasim_fiber_bootstrap);        // return address
    frame[7] = nullptr;
    frame[8] = nullptr;
    context.stackPointer = frame;
}

#else  // portable fallback

void make_fiber_context(FiberContext& context, FiberStack& stack, void (*entry)(void*), void* arg) {
    getcontext(&context.context);
    char* bottom = static_cast<char*>(stack.base()) + page_bytes();  // above the guard page
    context.context.uc_stack.ss_sp = bottom;
    context.context.uc_stack.ss_size = reinterpret_cast<char*>(stack.registers()) - bottom;
    context.context.uc_link = nullptr;
    // makecontext passes int arguments only: split the pointer into two halves.
    const auto bits = reinterpret_cast<std::uintptr_t>(arg);
    makecontext(&context.context, reinterpret_cast<void (*)()>(+[](unsigned lo, unsigned hi, unsigned flo,
                                                                    unsigned fhi) {
                    auto fn = reinterpret_cast<void (*)(void*)>((std::uintptr_t(fhi) << 32) | flo);
                    fn(reinterpret_cast<void*>((std::uintptr_t(hi) << 32) | lo));
                }),
                4, unsigned(bits), unsigned(bits >> 32), unsigned(reinterpret_cast<std::uintptr_t>(entry)),
                unsigned(reinterpret_cast<std::uintptr_t>(entry) >> 32));
}

void switch_fiber_context(FiberContext& from, FiberContext& to) { swapcontext(&from.context, &to.context); }

#endif

}  // namespace cudasim::detail
