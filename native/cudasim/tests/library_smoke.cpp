// Loads the production libspecee_cudasim.so the way .NET P/Invoke does (dlopen, RTLD_LOCAL) and checks that
// the C API is exported and usable. Kernels in it come from src/**/Kernels/*.cu and may not exist yet.
#include <dlfcn.h>

#include <cstdio>
#include <cstdint>

#include "cudasim_api.h"

namespace {
int failures = 0;
void expect(bool ok, const char* what) {
    if (!ok) {
        std::fprintf(stderr, "FAILED: %s\n", what);
        ++failures;
    }
}
template <typename F>
F symbol(void* library, const char* name) {
    void* p = dlsym(library, name);
    expect(p != nullptr, name);
    return reinterpret_cast<F>(p);
}
}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: cudasim_library_smoke <path to libspecee_cudasim.so>\n");
        return 2;
    }
    void* library = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (library == nullptr) {
        std::fprintf(stderr, "dlopen failed: %s\n", dlerror());
        return 1;
    }
    auto version = symbol<int (*)()>(library, "cudasim_api_version");
    auto create = symbol<int (*)(int, cudasim_ctx*)>(library, "cudasim_ctx_create");
    auto destroy = symbol<int (*)(cudasim_ctx)>(library, "cudasim_ctx_destroy");
    auto alloc = symbol<int (*)(cudasim_ctx, cudasim_deviceptr*, size_t)>(library, "cudasim_mem_alloc");
    auto memfree = symbol<int (*)(cudasim_ctx, cudasim_deviceptr)>(library, "cudasim_mem_free");
    auto load = symbol<int (*)(cudasim_ctx, const char*, cudasim_module*)>(library, "cudasim_module_load");
    auto name = symbol<const char* (*)(int)>(library, "cudasim_error_name");
    if (failures != 0) return 1;
    // Internal symbols must stay hidden (the version script exports cudasim_* only).
    expect(dlsym(library, "_ZN7cudasim6detail15register_kernelERKNS0_10KernelInfoE") == nullptr, "register_kernel hidden");

    expect(version() == CUDASIM_API_VERSION, "API version matches the header");
    cudasim_ctx ctx = nullptr;
    expect(create(2, &ctx) == CUDASIM_SUCCESS, "ctx create");
    cudasim_deviceptr p = 0;
    expect(alloc(ctx, &p, 1024) == CUDASIM_SUCCESS && p % 256 == 0, "256-byte aligned device allocation");
    expect(memfree(ctx, p) == CUDASIM_SUCCESS, "free");
    cudasim_module module = nullptr;
    const int rc = load(ctx, "*", &module);
    expect(rc == CUDASIM_SUCCESS || rc == CUDASIM_ERROR_NOT_FOUND, "load all kernels (none registered is fine)");
    std::printf("libspecee_cudasim: API v%d, module \"*\": %s\n", version(), name(rc));
    expect(destroy(ctx) == CUDASIM_SUCCESS, "ctx destroy");
    dlclose(library);
    return failures == 0 ? 0 : 1;
}
