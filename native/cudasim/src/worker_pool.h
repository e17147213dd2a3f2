// The simulated "SMs": OS threads that run the blocks of a grid.
//
// The thread that launches takes part, so a pool of N workers owns N-1 threads and a one-worker pool runs
// everything on the caller. Blocks are claimed one at a time from a shared counter; since each block runs
// entirely on one worker and blocks do not communicate (except through atomics), which worker runs which
// block never changes a result.
//
// A launch completes when all its blocks have finished, not when every helper has woken up: on a loaded
// machine a helper may be scheduled milliseconds late, and then it simply finds nothing left to claim.
// Claims carry the launch's generation so a late helper can never take a block of a newer launch.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "block_runner.h"

namespace cudasim::detail {

class WorkerPool {
public:
    // Grids with more blocks than this are rejected (the claim word keeps 40 bits for the block index).
    static constexpr uint64_t kMaxBlocks = uint64_t{1} << 40;

    explicit WorkerPool(int workerCount);
    ~WorkerPool();
    WorkerPool(const WorkerPool&) = delete;
    WorkerPool& operator=(const WorkerPool&) = delete;

    int worker_count() const { return workerCount_; }

    // Runs every block of the launch; returns false with the first failing block's description.
    bool run_grid(const LaunchDesc& launch, std::string& error);

private:
    void helper_main();
    void run_blocks(uint64_t generation, const LaunchDesc& launch, uint64_t blockCount);

    const int workerCount_;
    std::vector<std::thread> threads_;

    std::mutex launchMutex_;   // one grid at a time
    std::mutex stateMutex_;    // guards the fields below, with wake_/done_
    std::condition_variable wake_;
    std::condition_variable done_;
    uint64_t generation_ = 0;
    LaunchDesc job_{};
    uint64_t jobBlocks_ = 0;
    bool stopping_ = false;

    std::atomic<uint64_t> claim_{0};      // (generation << 40) | next unclaimed block
    std::atomic<uint64_t> finished_{0};   // blocks of the current launch that are done (or skipped)
    std::atomic<bool> failed_{false};
    std::mutex errorMutex_;
    std::string error_;
};

}  // namespace cudasim::detail
