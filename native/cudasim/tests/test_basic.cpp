// Element-wise kernels, grid indexing, API validation.
#include <cstdint>
#include <random>

#include "harness.h"

using cudasim_test::Sim;

CUDASIM_TEST(VectorAdd_OddSize_MatchesHostSum) {
    Sim sim;
    const int n = 1000 + 3;
    std::mt19937 rng(1);
    std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
    std::vector<float> a(n), b(n);
    for (int i = 0; i < n; ++i) { a[i] = dist(rng); b[i] = dist(rng); }
    const auto da = sim.upload(a), db = sim.upload(b);
    const auto dout = sim.upload(std::vector<float>(n, NAN));  // unwritten elements stay NaN and fail
    cudasim_function f = sim.function("Basic.cu", "vector_add_f32");
    int count = n;
    sim.launch(f, 3, 1, 1, 128, 1, 1, 0, {&dout, &da, &db, &count});  // grid-stride: 384 threads for 1003
    const auto out = sim.download<float>(dout, n);
    for (int i = 0; i < n; ++i) CHECK_EQ(out[i], a[i] + b[i]);
}

CUDASIM_TEST(Grid3D_EveryThreadSeesItsCoordinates) {
    Sim sim;
    const unsigned gx = 3, gy = 4, gz = 5, bx = 4, by = 3, bz = 2;
    const std::size_t total = gx * gy * gz * bx * by * bz;
    const auto dout = sim.upload(std::vector<int>(total, -1));
    cudasim_function f = sim.function("Basic.cu", "grid_index_3d");
    sim.launch(f, gx, gy, gz, bx, by, bz, 0, {&dout});
    const auto out = sim.download<int>(dout, total);
    std::size_t id = 0;
    for (unsigned z = 0; z < gz; ++z)
        for (unsigned y = 0; y < gy; ++y)
            for (unsigned x = 0; x < gx; ++x)
                for (unsigned tz = 0; tz < bz; ++tz)
                    for (unsigned ty = 0; ty < by; ++ty)
                        for (unsigned tx = 0; tx < bx; ++tx, ++id)
                            CHECK_EQ(out[id], static_cast<int>((z * 100 + y * 10 + x) * 1000 + tz * 100 + ty * 10 + tx));
}

CUDASIM_TEST(HalfRoundTrip_OnDevice_MatchesFloat16Cast) {
    Sim sim;
    const int n = 257;
    std::vector<float> in(n);
    for (int i = 0; i < n; ++i) in[i] = std::ldexp(1.0f + i / 257.0f, (i % 40) - 26) * (i % 2 ? -1.0f : 1.0f);
    const auto din = sim.upload(in);
    const auto dout = sim.upload(std::vector<float>(n, NAN));
    cudasim_function f = sim.function("Basic.cu", "half_round_trip");
    int count = n;
    sim.launch(f, 2, 1, 1, 128, 1, 1, 0, {&dout, &din, &count});
    const auto out = sim.download<float>(dout, n);
    for (int i = 0; i < n; ++i) CHECK_EQ(out[i], static_cast<float>(static_cast<_Float16>(in[i])));
}

CUDASIM_TEST(Api_RejectsInvalidArguments) {
    Sim sim;
    cudasim_function f = sim.function("Basic.cu", "vector_add_f32");
    const auto d = sim.alloc(64);
    int n = 16;
    void* args[] = {const_cast<cudasim_deviceptr*>(&d), const_cast<cudasim_deviceptr*>(&d),
                    const_cast<cudasim_deviceptr*>(&d), &n};
    CHECK_EQ(cudasim_launch_kernel(sim.ctx, f, 1, 1, 1, 1025, 1, 1, 0, nullptr, args), CUDASIM_ERROR_INVALID_VALUE);
    CHECK_EQ(cudasim_launch_kernel(sim.ctx, f, 1, 1, 1, 32, 32, 2, 0, nullptr, args), CUDASIM_ERROR_INVALID_VALUE);
    CHECK_EQ(cudasim_launch_kernel(sim.ctx, f, 1, 65536, 1, 32, 1, 1, 0, nullptr, args), CUDASIM_ERROR_INVALID_VALUE);
    CHECK_EQ(cudasim_launch_kernel(sim.ctx, f, 0, 1, 1, 32, 1, 1, 0, nullptr, args), CUDASIM_ERROR_INVALID_VALUE);
    // Dynamic shared memory above 48 KiB needs the opt-in attribute, as on the GPU.
    CHECK_EQ(cudasim_launch_kernel(sim.ctx, f, 1, 1, 1, 32, 1, 1, 64 * 1024, nullptr, args), CUDASIM_ERROR_INVALID_VALUE);
    Sim::ok(cudasim_func_set_attribute(sim.ctx, f, CUDASIM_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, 64 * 1024), "set");
    Sim::ok(cudasim_launch_kernel(sim.ctx, f, 1, 1, 1, 32, 1, 1, 64 * 1024, nullptr, args), "launch with opt-in");
    CHECK_EQ(cudasim_launch_kernel(sim.ctx, f, 1, 1, 1, 32, 1, 1, 0, nullptr, nullptr), CUDASIM_ERROR_INVALID_VALUE);

    // Copies must stay inside one allocation; frees must name an allocation start.
    std::vector<char> host(128);
    CHECK_EQ(cudasim_memcpy_htod(sim.ctx, d, host.data(), 65, nullptr), CUDASIM_ERROR_INVALID_VALUE);
    CHECK_EQ(cudasim_memcpy_dtoh(sim.ctx, host.data(), d + 8, 57, nullptr), CUDASIM_ERROR_INVALID_VALUE);
    CHECK_EQ(cudasim_memset_d32(sim.ctx, d + 4, 0, 16, nullptr), CUDASIM_ERROR_INVALID_VALUE);
    Sim::ok(cudasim_memset_d32(sim.ctx, d + 4, 7, 15, nullptr), "memset inside");
    CHECK_EQ(cudasim_mem_free(sim.ctx, d + 4), CUDASIM_ERROR_INVALID_VALUE);
    CHECK(std::string(cudasim_last_error_message()).find("not the start") != std::string::npos);

    // Modules and kernels are looked up by file and name.
    cudasim_module m = nullptr;
    CHECK_EQ(cudasim_module_load(sim.ctx, "NoSuchFile.cu", &m), CUDASIM_ERROR_NOT_FOUND);
    Sim::ok(cudasim_module_load(sim.ctx, "Basic.cu", &m), "load Basic.cu");
    cudasim_function g = nullptr;
    CHECK_EQ(cudasim_module_get_function(sim.ctx, m, "gemv_f32", &g), CUDASIM_ERROR_NOT_FOUND);  // lives in Gemv.cu
    Sim::ok(cudasim_module_unload(sim.ctx, m), "unload");
    CHECK_EQ(cudasim_error_name(CUDASIM_ERROR_INVALID_VALUE), std::string("CUDA_ERROR_INVALID_VALUE"));
}

CUDASIM_TEST(Api_ParamInfoAndMemset) {
    Sim sim;
    cudasim_function f = sim.function("Basic.cu", "append_step");
    int count = 0;
    Sim::ok(cudasim_func_get_param_count(sim.ctx, f, &count), "param count");
    CHECK_EQ(count, 4);
    std::size_t bytes = 0;
    Sim::ok(cudasim_func_get_param_size(sim.ctx, f, 2, &bytes), "param size");
    CHECK_EQ(bytes, sizeof(int));
    Sim::ok(cudasim_func_get_param_size(sim.ctx, f, 0, &bytes), "param size");
    CHECK_EQ(bytes, sizeof(void*));

    const auto d = sim.alloc(40);
    for (uint8_t b : sim.download<uint8_t>(d, 40)) CHECK_EQ(static_cast<int>(b), 0xff);  // poisoned when fresh
    Sim::ok(cudasim_memset_d8(sim.ctx, d, 0xab, 40, nullptr), "memset d8");
    Sim::ok(cudasim_memset_d32(sim.ctx, d + 8, 0x01020304u, 3, nullptr), "memset d32");
    const auto bytesBack = sim.download<uint8_t>(d, 40);
    for (int i = 0; i < 40; ++i) {
        const bool inWords = i >= 8 && i < 20;
        const uint8_t expected = inWords ? static_cast<uint8_t>(4 - (i - 8) % 4) : 0xab;  // little-endian words
        CHECK_EQ(static_cast<int>(bytesBack[i]), static_cast<int>(expected));
    }
}

CUDASIM_TEST(ModuleIsolation_SameHelperNameInTwoFiles_EachUsesItsOwn) {
    Sim sim;
    auto dout = sim.upload(std::vector<int>(2, -1));
    sim.launch(sim.function("IsolationA.cu", "module_tag_a"), 1, 1, 1, 1, 1, 1, 0, {&dout});
    CHECK_EQ(sim.download<int>(dout, 2)[0], 1);
    CHECK_EQ(sim.download<int>(dout, 2)[1], 1);
    sim.launch(sim.function("IsolationB.cu", "module_tag_b"), 1, 1, 1, 1, 1, 1, 0, {&dout});
    CHECK_EQ(sim.download<int>(dout, 2)[0], 2);
    CHECK_EQ(sim.download<int>(dout, 2)[1], 1);  // B's g_calls is not A's
    cudasim_module all = nullptr;
    cudasim_function f = nullptr;
    Sim::ok(cudasim_module_load(sim.ctx, "*", &all), "load *");
    Sim::ok(cudasim_module_get_function(sim.ctx, all, "module_tag_b", &f), "module_tag_b via *");
    Sim::ok(cudasim_module_unload(sim.ctx, all), "unload");
}
