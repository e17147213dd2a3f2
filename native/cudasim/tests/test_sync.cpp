// Barriers, dynamic shared memory, warp collectives, deadlock detection.
#include <random>

#include "harness.h"

using cudasim_test::Sim;

CUDASIM_TEST(BlockReduce_SyncthreadsAndDynamicShared_MatchesHostSum) {
    Sim sim;
    const int block = 256, blocks = 7, n = block * blocks - 100;  // last block partly padding
    std::vector<float> x(n);
    for (int i = 0; i < n; ++i) x[i] = static_cast<float>((i * 37) % 101) - 50.0f;  // integers: sums are exact
    auto dx = sim.upload(x);
    auto dpartial = sim.upload(std::vector<float>(blocks, NAN));
    cudasim_function f = sim.function("Reductions.cu", "block_reduce_sum_f32");
    int count = n;
    sim.launch(f, blocks, 1, 1, block, 1, 1, block * sizeof(float), {&dpartial, &dx, &count});
    const auto partial = sim.download<float>(dpartial, blocks);
    for (int b = 0; b < blocks; ++b) {
        float expected = 0.0f;
        for (int i = b * block; i < (b + 1) * block && i < n; ++i) expected += x[i];
        CHECK_EQ(partial[b], expected);
    }
}

CUDASIM_TEST(WarpReduce_ShflXor_MatchesHostSumPerWarp) {
    Sim sim;
    const int block = 128, blocks = 3, n = block * blocks;
    std::vector<float> x(n);
    for (int i = 0; i < n; ++i) x[i] = static_cast<float>(i % 17) * 0.5f;
    auto dx = sim.upload(x);
    auto dout = sim.upload(std::vector<float>(n / 32, NAN));
    sim.launch(sim.function("Reductions.cu", "warp_reduce_sum_f32"), blocks, 1, 1, block, 1, 1, 0, {&dout, &dx});
    const auto out = sim.download<float>(dout, n / 32);
    for (int w = 0; w < n / 32; ++w) {
        float expected = 0.0f;
        for (int l = 0; l < 32; ++l) expected += x[w * 32 + l];
        CHECK_EQ(out[w], expected);
    }
}

namespace {
// Reference semantics of the shuffles, from the CUDA C++ Programming Guide (warp shuffle functions).
int ref_shfl(const std::vector<int>& in, int warpBase, int lane, int src, int width) {
    return in[warpBase + (lane / width) * width + (src % width)];
}
int ref_up(const std::vector<int>& in, int warpBase, int lane, int delta, int width) {
    return (lane % width) < delta ? in[warpBase + lane] : in[warpBase + lane - delta];
}
int ref_down(const std::vector<int>& in, int warpBase, int lane, int delta, int width) {
    return (lane % width) + delta >= width ? in[warpBase + lane] : in[warpBase + lane + delta];
}
int ref_xor(const std::vector<int>& in, int warpBase, int lane, int laneMask, int width) {
    const int target = lane ^ laneMask;
    return target >= (lane / width + 1) * width ? in[warpBase + lane] : in[warpBase + target];
}
}  // namespace

CUDASIM_TEST(ShuffleVariants_ThreeWarpsTwoBlocks_MatchCudaSemantics) {
    Sim sim;
    const int block = 96, blocks = 2, n = block * blocks;
    std::vector<int> in(n);
    std::mt19937 rng(7);
    for (int& v : in) v = static_cast<int>(rng() % 100000);
    auto din = sim.upload(in);
    cudasim_function f = sim.function("Reductions.cu", "shuffle_variants");
    struct Params { int src; unsigned delta; int laneMask; };
    for (const Params p : {Params{5, 3u, 9}, Params{37, 1u, 1}, Params{31, 16u, 16}, Params{0, 7u, 31}}) {
        auto dout = sim.upload(std::vector<int>(7 * n, -99));
        sim.launch(f, blocks, 1, 1, block, 1, 1, 0, {&dout, &din, &p.src, &p.delta, &p.laneMask});
        const auto out = sim.download<int>(dout, 7 * n);
        for (int i = 0; i < n; ++i) {
            const int base = i / 32 * 32, lane = i % 32, d = static_cast<int>(p.delta);
            CHECK_EQ(out[7 * i + 0], ref_shfl(in, base, lane, p.src, 32));
            CHECK_EQ(out[7 * i + 1], ref_shfl(in, base, lane, p.src, 8));
            CHECK_EQ(out[7 * i + 2], ref_up(in, base, lane, d, 16));
            CHECK_EQ(out[7 * i + 3], ref_down(in, base, lane, d, 8));
            CHECK_EQ(out[7 * i + 4], ref_xor(in, base, lane, p.laneMask, 32));
            CHECK_EQ(out[7 * i + 5], ref_xor(in, base, lane, p.laneMask, 8));
            CHECK_EQ(out[7 * i + 6], lane < 16 ? ref_down(in, base, lane, d, 16) : -1);
        }
    }
}

CUDASIM_TEST(Votes_BallotAnyAllAndSyncthreadsCount) {
    Sim sim;
    const int block = 64, blocks = 2, n = block * blocks;
    std::vector<int> in(n);
    for (int i = 0; i < n; ++i) in[i] = (i % 3 == 0) ? 1 : 0;
    for (int i = 32; i < 64; ++i) in[i] = 1;  // warp 1: all true
    for (int i = 64; i < 96; ++i) in[i] = 0;  // warp 2: all false
    auto din = sim.upload(in);
    auto dvotes = sim.upload(std::vector<unsigned>(3 * n / 32, 0xdeadbeefu));
    auto dcounts = sim.upload(std::vector<int>(2 * blocks, -1));
    sim.launch(sim.function("Reductions.cu", "votes"), blocks, 1, 1, block, 1, 1, 0, {&dvotes, &dcounts, &din});
    const auto votes = sim.download<unsigned>(dvotes, 3 * n / 32);
    const auto counts = sim.download<int>(dcounts, 2 * blocks);
    for (int w = 0; w < n / 32; ++w) {
        unsigned ballot = 0;
        for (int l = 0; l < 32; ++l) ballot |= (in[w * 32 + l] > 0 ? 1u : 0u) << l;
        CHECK_EQ(votes[3 * w + 0], ballot);
        CHECK_EQ(votes[3 * w + 1], ballot != 0 ? 1u : 0u);
        CHECK_EQ(votes[3 * w + 2], ballot == 0xffffffffu ? 1u : 0u);
    }
    for (int b = 0; b < blocks; ++b) {
        int count = 0;
        for (int i = b * block; i < (b + 1) * block; ++i) count += in[i] > 0;
        CHECK_EQ(counts[b], count);
        CHECK_EQ(counts[blocks + b], count > 0 ? 1 : 0);
    }
}

CUDASIM_TEST(Deadlock_ShuffleWithExitedLanes_FailsLaunchAndRecovers) {
    Sim sim;
    auto dout = sim.upload(std::vector<float>(64, 0.0f));
    cudasim_function broken = sim.function("Reductions.cu", "broken_shuffle");
    const void* args[] = {&dout};
    const int rc = cudasim_launch_kernel(sim.ctx, broken, 4, 1, 1, 64, 1, 1, 0, nullptr, const_cast<void**>(args));
    CHECK_EQ(rc, CUDASIM_ERROR_LAUNCH_FAILED);
    const std::string message = cudasim_last_error_message();
    CHECK(message.find("broken_shuffle") != std::string::npos);
    CHECK(message.find("deadlock") != std::string::npos);
    CHECK(message.find("0xffff0000") != std::string::npos);  // the lanes that never arrived
    // The workers' fibers were reset: a correct kernel runs normally afterwards.
    std::vector<float> x(256, 1.0f);
    auto dx = sim.upload(x);
    auto dpartial = sim.upload(std::vector<float>(2, NAN));
    int n = 256;
    sim.launch(sim.function("Reductions.cu", "block_reduce_sum_f32"), 2, 1, 1, 128, 1, 1, 128 * sizeof(float),
               {&dpartial, &dx, &n});
    const auto partial = sim.download<float>(dpartial, 2);
    CHECK_EQ(partial[0], 128.0f);
    CHECK_EQ(partial[1], 128.0f);
}

CUDASIM_TEST(DynamicShared_IsPoisonedAtEveryBlockStart) {
    Sim sim(1);  // one worker: block 1 runs right after block 0 wrote 12345 everywhere
    auto dout = sim.upload(std::vector<unsigned>(2 * 64, 0));
    sim.launch(sim.function("Reductions.cu", "read_unwritten_shared"), 2, 1, 1, 64, 1, 1, 64 * sizeof(unsigned), {&dout});
    for (unsigned v : sim.download<unsigned>(dout, 2 * 64)) CHECK_EQ(v, 0xffffffffu);
}
