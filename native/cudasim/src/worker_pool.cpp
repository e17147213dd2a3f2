#include "worker_pool.h"

namespace cudasim::detail {

WorkerPool::WorkerPool(int workerCount) : workerCount_(workerCount < 1 ? 1 : workerCount) {
    threads_.reserve(workerCount_ - 1);
    for (int i = 1; i < workerCount_; ++i) threads_.emplace_back([this] { worker_main(); });
}

WorkerPool::~WorkerPool() {
    {
        std::lock_guard<std::mutex> lock(stateMutex_);
        stopping_ = true;
    }
    wake_.notify_all();
    for (auto& thread : threads_) thread.join();
}

void WorkerPool::worker_main() {
    unsigned long long seen = 0;
    for (;;) {
        const LaunchDesc* job;
        {
            std::unique_lock<std::mutex> lock(stateMutex_);
            wake_.wait(lock, [&] { return stopping_ || generation_ != seen; });
            if (stopping_) return;
            seen = generation_;
            job = job_;
        }
        run_blocks(*job);
        {
            std::lock_guard<std::mutex> lock(stateMutex_);
            --busyHelpers_;
        }
        done_.notify_one();
    }
}

void WorkerPool::run_blocks(const LaunchDesc& launch) {
    BlockRunner& runner = BlockRunner::for_this_thread();
    const unsigned long long gx = launch.grid.x, gy = launch.grid.y;
    std::string error;
    for (;;) {
        if (failed_.load(std::memory_order_relaxed)) return;
        const unsigned long long linear = nextBlock_.fetch_add(1, std::memory_order_relaxed);
        if (linear >= blockCount_) return;
        const uint3 blockIdx{static_cast<unsigned>(linear % gx), static_cast<unsigned>((linear / gx) % gy),
                             static_cast<unsigned>(linear / (gx * gy))};
        if (!runner.run_block(launch, blockIdx, error)) {
            std::lock_guard<std::mutex> lock(errorMutex_);
            if (!failed_.exchange(true)) error_ = error;
            return;
        }
    }
}

bool WorkerPool::run_grid(const LaunchDesc& launch, std::string& error) {
    std::lock_guard<std::mutex> launchLock(launchMutex_);
    blockCount_ = static_cast<unsigned long long>(launch.grid.x) * launch.grid.y * launch.grid.z;
    nextBlock_.store(0, std::memory_order_relaxed);
    failed_.store(false, std::memory_order_relaxed);
    error_.clear();
    // Waking helpers costs tens of microseconds; a single block is not worth it.
    const int helpers = blockCount_ > 1 ? static_cast<int>(threads_.size()) : 0;
    if (helpers > 0) {
        {
            std::lock_guard<std::mutex> lock(stateMutex_);
            job_ = &launch;
            busyHelpers_ = helpers;
            ++generation_;
        }
        wake_.notify_all();
    }
    run_blocks(launch);
    if (helpers > 0) {
        std::unique_lock<std::mutex> lock(stateMutex_);
        done_.wait(lock, [&] { return busyHelpers_ == 0; });
    }
    if (failed_.load()) {
        error = error_;
        return false;
    }
    return true;
}

}  // namespace cudasim::detail
