#include "harness.h"

#include <cstring>

namespace cudasim_test {

std::vector<TestCase>& registry() {
    static std::vector<TestCase> cases;
    return cases;
}

void Sim::ok(int rc, const char* what) {
    if (rc == CUDASIM_SUCCESS) return;
    fail_now(__FILE__, __LINE__,
             std::string(what) + ": " + cudasim_error_name(rc) + " — " + cudasim_last_error_message());
}

Sim::Sim(int workers) { ok(cudasim_ctx_create(workers, &ctx), "cudasim_ctx_create"); }

Sim::~Sim() {
    for (cudasim_deviceptr p : allocations_) cudasim_mem_free(ctx, p);
    for (cudasim_module m : modules_) cudasim_module_unload(ctx, m);
    cudasim_ctx_destroy(ctx);
}

cudasim_deviceptr Sim::alloc(std::size_t bytes) {
    cudasim_deviceptr p = 0;
    ok(cudasim_mem_alloc(ctx, &p, bytes), "cudasim_mem_alloc");
    std::lock_guard<std::mutex> lock(mutex_);
    allocations_.push_back(p);
    return p;
}

cudasim_function Sim::function(const char* module, const char* kernel) {
    cudasim_module m = nullptr;
    ok(cudasim_module_load(ctx, module, &m), "cudasim_module_load");
    {
        std::lock_guard<std::mutex> lock(mutex_);
        modules_.push_back(m);
    }
    cudasim_function f = nullptr;
    ok(cudasim_module_get_function(ctx, m, kernel, &f), "cudasim_module_get_function");
    return f;
}

void Sim::launch(cudasim_function f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
                 unsigned shared, std::vector<const void*> args, cudasim_stream stream) {
    // kernelParams is void** in the C API (as in cuLaunchKernel); the values are only read.
    ok(cudasim_launch_kernel(ctx, f, gx, gy, gz, bx, by, bz, shared, stream, const_cast<void**>(args.data())),
       "cudasim_launch_kernel");
}

}  // namespace cudasim_test

// Usage: cudasim_tests [name...]   (no names: run all; --list: print names)
int main(int argc, char** argv) {
    using cudasim_test::registry;
    if (argc == 2 && std::strcmp(argv[1], "--list") == 0) {
        for (const auto& c : registry()) std::printf("%s\n", c.name);
        return 0;
    }
    int ran = 0;
    for (const auto& c : registry()) {
        bool selected = argc == 1;
        for (int i = 1; i < argc; ++i) selected |= std::strcmp(argv[i], c.name) == 0;
        if (!selected) continue;
        std::printf("[ RUN  ] %s\n", c.name);
        std::fflush(stdout);
        c.body();
        std::printf("[  OK  ] %s\n", c.name);
        ++ran;
    }
    if (ran == 0) {
        std::fprintf(stderr, "no test matched\n");
        return 1;
    }
    return 0;
}
