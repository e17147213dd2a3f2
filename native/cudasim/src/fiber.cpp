#include "fiber.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <new>

namespace cudasim::detail {

namespace {
std::size_t page_bytes() {
    static const std::size_t bytes = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
    return bytes;
}
}  // namespace

FiberStack::FiberStack(std::size_t bytes) {
    const std::size_t page = page_bytes();
    usableBytes_ = (bytes + page - 1) / page * page;
    mappingBytes_ = usableBytes_ + page;
    // MAP_NORESERVE: only the pages a kernel actually touches (usually one or two) cost memory.
    mapping_ = mmap(nullptr, mappingBytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                    -1, 0);
    if (mapping_ == MAP_FAILED) throw std::bad_alloc();
    mprotect(mapping_, page, PROT_NONE);
    usable_ = static_cast<char*>(mapping_) + page;
}

FiberStack::~FiberStack() { munmap(mapping_, mappingBytes_); }

std::size_t fiber_stack_bytes() {
    static const std::size_t bytes = [] {
        const char* env = std::getenv("SPECEE_CUDASIM_STACK_KB");
        const long kb = env ? std::strtol(env, nullptr, 10) : 0;
        return static_cast<std::size_t>(kb >= 16 ? kb : 128) * 1024;
    }();
    return bytes;
}

#if defined(__x86_64__)

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

extern "C" void cudasim_fiber_switch(void** saveStackPointer, void* resumeStackPointer);
extern "C" void cudasim_fiber_bootstrap();

void make_fiber_context(FiberContext& context, FiberStack& stack, void (*entry)(void*), void* arg) {
    auto top = reinterpret_cast<std::uintptr_t>(stack.base()) + stack.size();
    top &= ~static_cast<std::uintptr_t>(15);
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

void switch_fiber_context(FiberContext& from, FiberContext& to) {
    cudasim_fiber_switch(&from.stackPointer, to.stackPointer);
}

#else  // portable fallback

void make_fiber_context(FiberContext& context, FiberStack& stack, void (*entry)(void*), void* arg) {
    getcontext(&context.context);
    context.context.uc_stack.ss_sp = stack.base();
    context.context.uc_stack.ss_size = stack.size();
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
