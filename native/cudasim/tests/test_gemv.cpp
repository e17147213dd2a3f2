// The backend-shaped GEMV: correctness against a double-precision reference, and simulator speed.
#include <chrono>
#include <ctime>
#include <random>

#include "harness.h"

using cudasim_test::Sim;

namespace {
constexpr int kRows = 384, kCols = 128;

struct GemvData {
    std::vector<float> w, x;
    std::vector<double> reference;  // y = W·x in double
};

GemvData make_gemv(int rows, int cols, unsigned seed) {
    GemvData d{std::vector<float>(static_cast<size_t>(rows) * cols), std::vector<float>(cols),
               std::vector<double>(rows, 0.0)};
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
    for (float& v : d.w) v = dist(rng);
    for (float& v : d.x) v = dist(rng);
    for (int r = 0; r < rows; ++r)
        for (int k = 0; k < cols; ++k) d.reference[r] += static_cast<double>(d.w[static_cast<size_t>(r) * cols + k]) * d.x[k];
    return d;
}

double thread_cpu_ms() {
    timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return t.tv_sec * 1e3 + t.tv_nsec * 1e-6;
}

struct Timing { double wallMs, callerCpuMs; };

// Mean per launch over `iterations` launches after one warm-up launch: wall time, and CPU time of the
// calling thread (with one worker that is all the work, and it is immune to other load on the machine).
Timing time_launches(Sim& sim, cudasim_function f, unsigned grid, unsigned block, std::vector<const void*> args,
                     int iterations) {
    sim.launch(f, grid, 1, 1, block, 1, 1, 0, args);
    const double cpuStart = thread_cpu_ms();
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < iterations; ++i) sim.launch(f, grid, 1, 1, block, 1, 1, 0, args);
    const auto end = std::chrono::steady_clock::now();
    return {std::chrono::duration<double, std::milli>(end - start).count() / iterations,
            (thread_cpu_ms() - cpuStart) / iterations};
}
}  // namespace

CUDASIM_TEST(Gemv_384x128_Block256_MatchesReference_AndReportsTime) {
    const GemvData data = make_gemv(kRows, kCols, 11);
    for (int workers : {1, 2}) {
        Sim sim(workers);
        auto dw = sim.upload(data.w);
        auto dx = sim.upload(data.x);
        auto dy = sim.upload(std::vector<float>(kRows, NAN));
        int rows = kRows, cols = kCols;
        cudasim_function gemv = sim.function("Gemv.cu", "gemv_f32");
        const Timing t = time_launches(sim, gemv, kRows / 8, 256, {&dy, &dw, &dx, &rows, &cols}, 20);
        const auto y = sim.download<float>(dy, kRows);
        for (int r = 0; r < kRows; ++r) CHECK_NEAR(y[r], data.reference[r], 1e-5, 1e-5);

        auto dy2 = sim.upload(std::vector<float>(kRows, NAN));
        cudasim_function rowThread = sim.function("Gemv.cu", "gemv_f32_rowthread");
        const Timing tRow = time_launches(sim, rowThread, kRows / 128, 128, {&dy2, &dw, &dx, &rows, &cols}, 20);
        const auto y2 = sim.download<float>(dy2, kRows);
        for (int r = 0; r < kRows; ++r) CHECK_NEAR(y2[r], data.reference[r], 1e-5, 1e-5);
        std::printf("  gemv 384x128 f32, %d worker(s), ms per launch (wall / caller CPU): block-256 + smem + "
                    "shuffles %.3f / %.3f; thread-per-row, no barriers %.3f / %.3f\n",
                    workers, t.wallMs, t.callerCpuMs, tRow.wallMs, tRow.callerCpuMs);
    }
}

CUDASIM_TEST(Gemv_OddShapeAndMultipleTiles_MatchesReference) {
    // 1500 columns: two shared-memory tiles, the second partial; 37 rows: the last block has idle warps.
    const int rows = 37, cols = 1500;
    const GemvData data = make_gemv(rows, cols, 5);
    Sim sim;
    auto dw = sim.upload(data.w);
    auto dx = sim.upload(data.x);
    auto dy = sim.upload(std::vector<float>(rows, NAN));
    int r = rows, c = cols;
    sim.launch(sim.function("Gemv.cu", "gemv_f32"), (rows + 7) / 8, 1, 1, 256, 1, 1, 0, {&dy, &dw, &dx, &r, &c});
    const auto y = sim.download<float>(dy, rows);
    for (int i = 0; i < rows; ++i) CHECK_NEAR(y[i], data.reference[i], 1e-4, 1e-5);
}

CUDASIM_TEST(LaunchBounds_AreReportedAndEnforced) {
    Sim sim;
    cudasim_function gemv = sim.function("Gemv.cu", "gemv_f32");          // __launch_bounds__(kGemvThreads = 256)
    cudasim_function rowThread = sim.function("Gemv.cu", "gemv_f32_rowthread");  // no bounds
    int value = 0;
    Sim::ok(cudasim_func_get_attribute(sim.ctx, gemv, CUDASIM_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK, &value), "attr");
    CHECK_EQ(value, 256);
    Sim::ok(cudasim_func_get_attribute(sim.ctx, rowThread, CUDASIM_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK, &value), "attr");
    CHECK_EQ(value, 1024);
    auto d = sim.alloc(1024 * sizeof(float));
    int rows = 8, cols = 8;
    const void* args[] = {&d, &d, &d, &rows, &cols};
    CHECK_EQ(cudasim_launch_kernel(sim.ctx, gemv, 1, 1, 1, 512, 1, 1, 0, nullptr, const_cast<void**>(args)),
             CUDASIM_ERROR_INVALID_VALUE);
    CHECK(std::string(cudasim_last_error_message()).find("__launch_bounds__(256)") != std::string::npos);
}

CUDASIM_TEST(Determinism_ResultsBitwiseEqualForAnyWorkerCount) {
    const GemvData data = make_gemv(kRows, 2000, 21);
    std::vector<float> x(20000);
    std::mt19937 rng(9);
    std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
    for (float& v : x) v = dist(rng);
    std::vector<float> firstY, firstPartial;
    for (int workers : {1, 2, 3, 5}) {
        Sim sim(workers);
        auto dw = sim.upload(data.w);
        auto dxg = sim.upload(data.x);
        auto dy = sim.upload(std::vector<float>(kRows, NAN));
        int rows = kRows, cols = 2000;
        sim.launch(sim.function("Gemv.cu", "gemv_f32"), kRows / 8, 1, 1, 256, 1, 1, 0, {&dy, &dw, &dxg, &rows, &cols});
        auto dx = sim.upload(x);
        const int blocks = 20000 / 256 + 1;
        auto dpartial = sim.upload(std::vector<float>(blocks, NAN));
        int n = 20000;
        sim.launch(sim.function("Reductions.cu", "block_reduce_sum_f32"), blocks, 1, 1, 256, 1, 1, 256 * sizeof(float),
                   {&dpartial, &dx, &n});
        const auto y = sim.download<float>(dy, kRows);
        const auto partial = sim.download<float>(dpartial, blocks);
        if (firstY.empty()) {
            firstY = y;
            firstPartial = partial;
            continue;
        }
        for (int i = 0; i < kRows; ++i) CHECK_EQ(__builtin_bit_cast(uint32_t, y[i]), __builtin_bit_cast(uint32_t, firstY[i]));
        for (int i = 0; i < blocks; ++i)
            CHECK_EQ(__builtin_bit_cast(uint32_t, partial[i]), __builtin_bit_cast(uint32_t, firstPartial[i]));
    }
}

CUDASIM_TEST(SchedulerCost_ReportsNanosecondsPerFiberSwitch) {
    Sim sim(1);
    int iterations = 200;
    for (const char* kernel : {"syncwarp_loop", "syncthreads_loop"}) {
        for (unsigned block : {32u, 256u}) {
            auto dout = sim.upload(std::vector<int>(4 * block, -1));
            const Timing t = time_launches(sim, sim.function("Reductions.cu", kernel), 4, block, {&dout, &iterations}, 5);
            const auto out = sim.download<int>(dout, 4 * block);
            for (int v : out) CHECK_EQ(v, iterations);
            // Every barrier passage suspends all threads but the last to arrive: one switch each.
            const double switches = 4.0 * block * iterations;
            std::printf("  %s, 4 blocks of %u threads: %.1f ns CPU per thread per barrier\n", kernel, block,
                        t.callerCpuMs * 1e6 / switches);
        }
    }
}
