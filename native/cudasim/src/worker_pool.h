// The simulated "SMs": OS threads that run the blocks of a grid.
//
// The thread that launches takes part, so a pool of N workers owns N-1 threads and a one-worker pool runs
// everything on the caller. Blocks are claimed one at a time from a shared counter; since each block runs
// entirely on one worker and blocks do not communicate (except through atomics), which worker runs which
// block never changes a result.
#pragma once

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "block_runner.h"

namespace cudasim::detail {

class WorkerPool {
public:
    explicit WorkerPool(int workerCount);
    ~WorkerPool();
    WorkerPool(const WorkerPool&) = delete;
    WorkerPool& operator=(const WorkerPool&) = delete;

    int worker_count() const { return workerCount_; }

    // Runs every block of the launch; returns false with the first failing block's description.
    bool run_grid(const LaunchDesc& launch, std::string& error);

private:
    void worker_main();
    void run_blocks(const LaunchDesc& launch);

    const int workerCount_;
    std::vector<std::thread> threads_;

    std::mutex launchMutex_;  // one grid at a time
    std::mutex stateMutex_;
    std::condition_variable wake_;
    std::condition_variable done_;
    const LaunchDesc* job_ = nullptr;
    unsigned long long generation_ = 0;
    int busyHelpers_ = 0;
    bool stopping_ = false;

    // Per-grid progress, shared by all participants.
    std::atomic<unsigned long long> nextBlock_{0};
    unsigned long long blockCount_ = 0;
    std::atomic<bool> failed_{false};
    std::mutex errorMutex_;
    std::string error_;
};

}  // namespace cudasim::detail
