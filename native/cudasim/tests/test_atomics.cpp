// Atomics across blocks running on several worker threads.
#include <random>

#include "harness.h"

using cudasim_test::Sim;

CUDASIM_TEST(Histogram_SharedAndGlobalAtomicAdd_MatchesHostCount) {
    Sim sim(4);
    const int n = 50000, binCount = 97;
    std::vector<unsigned> values(n);
    std::mt19937 rng(3);
    for (unsigned& v : values) v = rng();
    auto dvalues = sim.upload(values);
    auto dbins = sim.upload(std::vector<unsigned>(binCount, 0));
    int count = n, bins = binCount;
    sim.launch(sim.function("Histogram.cu", "histogram_u32"), 16, 1, 1, 256, 1, 1, 0, {&dbins, &dvalues, &count, &bins});
    const auto histogram = sim.download<unsigned>(dbins, binCount);
    std::vector<unsigned> expected(binCount, 0);
    for (unsigned v : values) ++expected[v % binCount];
    for (int b = 0; b < binCount; ++b) CHECK_EQ(histogram[b], expected[b]);
}

CUDASIM_TEST(AtomicMix_FloatAddMaxCas_AcrossWorkers) {
    Sim sim(3);
    const int n = 4096;
    std::vector<float> x(n);
    std::vector<int> values(n);
    for (int i = 0; i < n; ++i) { x[i] = 0.25f * static_cast<float>(i % 8); values[i] = (i * 7919) % 10007; }
    auto dx = sim.upload(x);
    auto dvalues = sim.upload(values);
    auto dsum = sim.upload(std::vector<float>{0.0f});
    auto dmax = sim.upload(std::vector<int>{-1});
    auto dslot = sim.upload(std::vector<int>{0});
    auto dwins = sim.upload(std::vector<int>{0});
    int count = n;
    sim.launch(sim.function("Histogram.cu", "atomic_mix"), n / 128, 1, 1, 128, 1, 1, 0,
               {&dsum, &dmax, &dslot, &dwins, &dx, &dvalues, &count});
    // Multiples of 0.25 with a small total are exact in fp32, so the order of additions cannot matter.
    float expectedSum = 0.0f;
    int expectedMax = -1;
    for (int i = 0; i < n; ++i) { expectedSum += x[i]; expectedMax = std::max(expectedMax, values[i]); }
    CHECK_EQ(sim.download<float>(dsum, 1)[0], expectedSum);
    CHECK_EQ(sim.download<int>(dmax, 1)[0], expectedMax);
    CHECK_EQ(sim.download<int>(dwins, 1)[0], 1);
    const int winner = sim.download<int>(dslot, 1)[0];
    CHECK(winner >= 1 && winner <= n);
}
