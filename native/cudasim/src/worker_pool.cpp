#include "worker_pool.h"

namespace cudasim::detail {

namespace {
constexpr unsigned kIndexBits = 40;
constexpr uint64_t kIndexMask = (uint64_t{1} << kIndexBits) - 1;
constexpr uint64_t kGenerationMask = (uint64_t{1} << (64 - kIndexBits)) - 1;
}  // namespace

WorkerPool::WorkerPool(int workerCount) : workerCount_(workerCount < 1 ? 1 : workerCount) {
    threads_.reserve(workerCount_ - 1);
    for (int i = 1; i < workerCount_; ++i) threads_.emplace_back([this] { helper_main(); });
}

WorkerPool::~WorkerPool() {
    {
        std::lock_guard<std::mutex> lock(stateMutex_);
        stopping_ = true;
    }
    wake_.notify_all();
    for (auto& thread : threads_) thread.join();
}

void WorkerPool::helper_main() {
    uint64_t seen = 0;
    for (;;) {
        uint64_t generation, blocks;
        LaunchDesc job;
        {
            std::unique_lock<std::mutex> lock(stateMutex_);
            wake_.wait(lock, [&] { return stopping_ || generation_ != seen; });
            if (stopping_) return;
            seen = generation = generation_;
            job = job_;
            blocks = jobBlocks_;
        }
        run_blocks(generation, job, blocks);
    }
}

void WorkerPool::run_blocks(uint64_t generation, const LaunchDesc& launch, uint64_t blockCount) {
    BlockRunner& runner = BlockRunner::for_this_thread();
    const uint64_t gx = launch.grid.x, gy = launch.grid.y;
    const uint64_t tag = (generation & kGenerationMask) << kIndexBits;
    std::string error;
    uint64_t state = claim_.load(std::memory_order_acquire);
    for (;;) {
        if ((state & ~kIndexMask) != tag || (state & kIndexMask) >= blockCount) return;
        if (!claim_.compare_exchange_weak(state, state + 1, std::memory_order_acq_rel)) continue;
        const uint64_t linear = state & kIndexMask;
        // After a failure the remaining blocks are skipped but still counted, so the launch completes.
        if (!failed_.load(std::memory_order_relaxed)) {
            const uint3 blockIdx{static_cast<unsigned>(linear % gx), static_cast<unsigned>((linear / gx) % gy),
                                 static_cast<unsigned>(linear / (gx * gy))};
            if (!runner.run_block(launch, blockIdx, error)) {
                std::lock_guard<std::mutex> lock(errorMutex_);
                if (!failed_.exchange(true)) error_ = error;
            }
        }
        if (finished_.fetch_add(1, std::memory_order_acq_rel) + 1 == blockCount) {
            std::lock_guard<std::mutex> lock(stateMutex_);
            done_.notify_all();
        }
        state = claim_.load(std::memory_order_acquire);
    }
}

bool WorkerPool::run_grid(const LaunchDesc& launch, std::string& error) {
    std::lock_guard<std::mutex> launchLock(launchMutex_);
    const uint64_t blockCount = static_cast<uint64_t>(launch.grid.x) * launch.grid.y * launch.grid.z;
    uint64_t generation;
    {
        std::lock_guard<std::mutex> lock(stateMutex_);
        generation = ++generation_;
        job_ = launch;
        jobBlocks_ = blockCount;
        finished_.store(0, std::memory_order_relaxed);
        failed_.store(false, std::memory_order_relaxed);
        error_.clear();
        claim_.store((generation & kGenerationMask) << kIndexBits, std::memory_order_release);
    }
    // Waking helpers costs tens of microseconds; a single block is not worth it.
    if (blockCount > 1 && !threads_.empty()) wake_.notify_all();
    run_blocks(generation, launch, blockCount);
    {
        std::unique_lock<std::mutex> lock(stateMutex_);
        done_.wait(lock, [&] { return finished_.load(std::memory_order_acquire) == blockCount; });
    }
    if (failed_.load()) {
        error = error_;
        return false;
    }
    return true;
}

}  // namespace cudasim::detail
