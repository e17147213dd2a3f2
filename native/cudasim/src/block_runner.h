// Runs the threads of one block as fibers on the calling OS thread.
//
// Scheduling (deterministic, so results never depend on timing):
//   - Threads start in linear-id order on a "carrier" fiber. A carrier runs thread after thread straight
//     through; only when a thread blocks (barrier, warp collective) does the next thread get a new carrier.
//     A kernel without barriers therefore runs a whole block with two context switches.
//   - A blocked carrier hands control directly to the next runnable carrier (threads released by a barrier
//     queue at the back, lanes released by a warp collective at the front),
//     else to a fresh carrier for the next unstarted thread, else back to the worker (block finished, or
//     deadlock when threads are still waiting).
//   - Carriers and their stacks belong to the OS thread and are reused by every block it runs.
//   - A warp collective is completed by the last lane to arrive: it computes every participating lane's
//     result at once, so no lane can overwrite its input before the others have read it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "cudasim/kernel_registry.h"
#include "cudasim/runtime_hooks.h"
#include "fiber.h"

namespace cudasim::detail {

// Fill new device allocations and each block's dynamic shared memory with 0xff bytes (NaN as f32/f16, -1
// as ints) so reads of never-written memory show up in tests. SPECEE_CUDASIM_POISON=0 turns it off.
bool poison_enabled();

// One kernel launch as the workers see it.
struct LaunchDesc {
    KernelInvoker invoke;
    void** args;               // cuLaunchKernel-style: args[i] points at parameter i
    uint3 grid;
    uint3 block;
    unsigned shared_bytes;     // dynamic shared memory per block
    const char* kernel_name;
};

class BlockRunner {
public:
    // The runner of the calling OS thread (created on first use, destroyed when the thread exits).
    static BlockRunner& for_this_thread();

    BlockRunner();
    ~BlockRunner();
    BlockRunner(const BlockRunner&) = delete;
    BlockRunner& operator=(const BlockRunner&) = delete;

    // Runs every thread of block `blockIdx`. Returns false and describes the state in `error` when the
    // threads deadlock (e.g. a __syncthreads not reached by all threads, a shuffle mask naming exited lanes).
    bool run_block(const LaunchDesc& launch, uint3 blockIdx, std::string& error);

    int block_barrier(int predicate, int kind);
    uint64_t warp_collective(unsigned mask, WarpOp op, uint64_t value, unsigned arg);

private:
    struct Carrier {
        FiberContext context;
        std::unique_ptr<FiberStack> stack;
        ThreadRegisters* regs = nullptr;  // at the top of `stack`: what the kernel reads as threadIdx & co.
        unsigned thread = 0;   // linear id of the thread it runs
        bool busy = false;     // holds an unfinished thread
    };
    struct WarpState {
        unsigned existing = 0;  // lanes present in the block
        unsigned arrived = 0;   // lanes waiting in the pending collective(s)
        unsigned mask[32];
        WarpOp op[32];
        uint64_t value[32];
        unsigned arg[32];
        uint64_t result[32];
        Carrier* waiter[32];
    };

    static void carrier_entry(void* runner);
    [[noreturn]] void carrier_loop();
    void thread_exited();
    void block_current();
    void retire(Carrier* carrier);
    void transfer(Carrier* from, Carrier* to);
    Carrier* acquire_carrier();
    void push_runnable(Carrier* carrier);
    void push_runnable_front(Carrier* carrier);
    Carrier* pop_runnable();
    void release_block_barrier();
    void complete_warp_collective(WarpState& warp, unsigned mask, WarpOp op);
    void prepare_block(const LaunchDesc& launch, uint3 blockIdx);
    std::string describe_deadlock() const;
    void reset_after_deadlock();

    // Carriers and the worker's own context.
    std::vector<std::unique_ptr<Carrier>> carriers_;
    std::vector<Carrier*> freeCarriers_;
    FiberContext workerContext_;
    Carrier* current_ = nullptr;

    // Runnable deque: a ring; each carrier is in it at most once, so 1024 slots always suffice.
    static constexpr unsigned kRingSize = 1024;
    Carrier* runnable_[kRingSize];
    unsigned runnableHead_ = 0;
    unsigned runnableCount_ = 0;

    // The block being run.
    const LaunchDesc* launch_ = nullptr;
    BlockRegisters blockRegs_{};
    unsigned threadCount_ = 0;
    unsigned nextUnstarted_ = 0;
    uint3 nextThreadIdx_{};     // threadIdx of thread nextUnstarted_ (x fastest)
    unsigned finished_ = 0;

    // __syncthreads state. Results of the last release are read by the released threads.
    unsigned barrierArrived_ = 0;
    unsigned barrierTrueCount_ = 0;
    std::vector<Carrier*> barrierWaiters_;
    unsigned releasedTrueCount_ = 0;
    unsigned releasedArrived_ = 0;

    std::vector<WarpState> warps_;

    // Dynamic shared memory of the block, 256-byte aligned, grown to the largest request.
    // Under valgrind the buffer is exactly the launch's size, so overruns are reported.
    struct FreeDeleter { void operator()(void* p) const; };
    std::unique_ptr<void, FreeDeleter> sharedStorage_;
    std::size_t sharedCapacity_ = 0;
};

}  // namespace cudasim::detail
