// C API: modules (kernels compiled into this library, grouped by source file), functions, launches.
#include <cstring>

#include "context.h"
#include "registry.h"

using namespace cudasim::detail;

namespace {
int require_function(cudasim_ctx ctx, cudasim_function function, const char* call) {
    std::lock_guard<std::mutex> lock(ctx->mutex);
    if (ctx->functions.count(function) == 0)
        return fail(CUDASIM_ERROR_INVALID_HANDLE, "%s: not a function of a loaded module of this context", call);
    return CUDASIM_SUCCESS;
}

#define CUDASIM_REQUIRE_FUNCTION(ctx, function, call)                       \
    if (int rc = require_function(ctx, function, call); rc != CUDASIM_SUCCESS) return rc

int check_geometry(cudasim_function function, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by,
                   unsigned bz, unsigned sharedBytes) {
    const char* name = function->info->name;
    if (gx == 0 || gy == 0 || gz == 0 || bx == 0 || by == 0 || bz == 0)
        return fail(CUDASIM_ERROR_INVALID_VALUE, "launch %s: grid (%u,%u,%u) and block (%u,%u,%u) must be non-zero",
                    name, gx, gy, gz, bx, by, bz);
    if (gx > 2147483647u || gy > 65535u || gz > 65535u)
        return fail(CUDASIM_ERROR_INVALID_VALUE, "launch %s: grid (%u,%u,%u) exceeds (2^31-1, 65535, 65535)", name,
                    gx, gy, gz);
    if (static_cast<unsigned long long>(gx) * gy * gz > WorkerPool::kMaxBlocks)
        return fail(CUDASIM_ERROR_INVALID_VALUE, "launch %s: grid (%u,%u,%u) has more than 2^40 blocks", name, gx, gy, gz);
    if (bx > 1024u || by > 1024u || bz > 64u)
        return fail(CUDASIM_ERROR_INVALID_VALUE, "launch %s: block (%u,%u,%u) exceeds (1024, 1024, 64)", name, bx, by, bz);
    const unsigned long long threads = static_cast<unsigned long long>(bx) * by * bz;
    if (threads > kMaxThreadsPerBlock)
        return fail(CUDASIM_ERROR_INVALID_VALUE, "launch %s: block (%u,%u,%u) has more than 1024 threads", name, bx,
                    by, bz);
    if (threads > function->info->max_threads)
        return fail(CUDASIM_ERROR_INVALID_VALUE, "launch %s: block (%u,%u,%u) has %llu threads but the kernel "
                    "declares __launch_bounds__(%u)", name, bx, by, bz, threads, function->info->max_threads);
    if (sharedBytes > static_cast<unsigned>(function->maxDynamicShared))
        return fail(CUDASIM_ERROR_INVALID_VALUE,
                    "launch %s: %u bytes of dynamic shared memory exceed the function's limit of %d "
                    "(raise it with MAX_DYNAMIC_SHARED_SIZE_BYTES)",
                    name, sharedBytes, function->maxDynamicShared);
    return CUDASIM_SUCCESS;
}
}  // namespace

extern "C" {

CUDASIM_API int cudasim_module_load(cudasim_ctx ctx, const char* moduleName, cudasim_module* outModule) {
    CUDASIM_REQUIRE_CONTEXT(ctx, "cudasim_module_load");
    if (moduleName == nullptr || outModule == nullptr)
        return fail(CUDASIM_ERROR_INVALID_VALUE, "cudasim_module_load: moduleName and outModule must be non-null");
    auto module = std::make_unique<cudasim_module_st>();
    module->name = moduleName;
    module->kernels = kernels_of_module(moduleName);
    if (module->kernels.empty())
        return fail(CUDASIM_ERROR_NOT_FOUND,
                    "cudasim_module_load: no kernel of this library was compiled from '%s' (is the .cu under "
                    "src/*/Kernels/ and does it define extern \"C\" __global__ kernels?)",
                    moduleName);
    std::lock_guard<std::mutex> lock(ctx->mutex);
    *outModule = ctx->modules.add(std::move(module));
    return succeed();
}

CUDASIM_API int cudasim_module_unload(cudasim_ctx ctx, cudasim_module module) {
    CUDASIM_REQUIRE_CONTEXT(ctx, "cudasim_module_unload");
    std::lock_guard<std::mutex> lock(ctx->mutex);
    if (!ctx->modules.contains(module))
        return fail(CUDASIM_ERROR_INVALID_HANDLE, "cudasim_module_unload: not a module of this context");
    for (auto& [name, function] : module->functions) ctx->functions.erase(function.get());
    ctx->modules.remove(module);
    return succeed();
}

CUDASIM_API int cudasim_module_get_function(cudasim_ctx ctx, cudasim_module module, const char* kernelName,
                                            cudasim_function* outFunction) {
    CUDASIM_REQUIRE_CONTEXT(ctx, "cudasim_module_get_function");
    if (kernelName == nullptr || outFunction == nullptr)
        return fail(CUDASIM_ERROR_INVALID_VALUE, "cudasim_module_get_function: kernelName and outFunction must be non-null");
    std::lock_guard<std::mutex> lock(ctx->mutex);
    if (!ctx->modules.contains(module))
        return fail(CUDASIM_ERROR_INVALID_HANDLE, "cudasim_module_get_function: not a module of this context");
    auto cached = module->functions.find(kernelName);
    if (cached != module->functions.end()) {
        *outFunction = cached->second.get();
        return succeed();
    }
    const KernelInfo* found = nullptr;
    for (const KernelInfo* info : module->kernels) {
        if (std::strcmp(info->name, kernelName) != 0) continue;
        if (found != nullptr)
            return fail(CUDASIM_ERROR_INVALID_VALUE, "cudasim_module_get_function: '%s' is defined in both %s and %s",
                        kernelName, source_file_name(found->source), source_file_name(info->source));
        found = info;
    }
    if (found == nullptr)
        return fail(CUDASIM_ERROR_NOT_FOUND, "cudasim_module_get_function: no kernel '%s' in module '%s'", kernelName,
                    module->name.c_str());
    auto function = std::make_unique<cudasim_function_st>();
    function->info = found;
    cudasim_function raw = function.get();
    module->functions.emplace(kernelName, std::move(function));
    ctx->functions.insert(raw);
    *outFunction = raw;
    return succeed();
}

CUDASIM_API int cudasim_func_get_param_count(cudasim_ctx ctx, cudasim_function function, int* outCount) {
    CUDASIM_REQUIRE_CONTEXT(ctx, "cudasim_func_get_param_count");
    CUDASIM_REQUIRE_FUNCTION(ctx, function, "cudasim_func_get_param_count");
    if (outCount == nullptr) return fail(CUDASIM_ERROR_INVALID_VALUE, "cudasim_func_get_param_count: outCount is null");
    *outCount = function->info->param_count;
    return succeed();
}

CUDASIM_API int cudasim_func_get_param_size(cudasim_ctx ctx, cudasim_function function, int index, size_t* outBytes) {
    CUDASIM_REQUIRE_CONTEXT(ctx, "cudasim_func_get_param_size");
    CUDASIM_REQUIRE_FUNCTION(ctx, function, "cudasim_func_get_param_size");
    if (outBytes == nullptr || index < 0 || index >= function->info->param_count)
        return fail(CUDASIM_ERROR_INVALID_VALUE, "cudasim_func_get_param_size: index %d out of range for %s (%d params)",
                    index, function->info->name, function->info->param_count);
    *outBytes = function->info->param_sizes[index];
    return succeed();
}

CUDASIM_API int cudasim_func_get_attribute(cudasim_ctx ctx, cudasim_function function, int attribute, int* outValue) {
    CUDASIM_REQUIRE_CONTEXT(ctx, "cudasim_func_get_attribute");
    CUDASIM_REQUIRE_FUNCTION(ctx, function, "cudasim_func_get_attribute");
    if (outValue == nullptr) return fail(CUDASIM_ERROR_INVALID_VALUE, "cudasim_func_get_attribute: outValue is null");
    switch (attribute) {
        case CUDASIM_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK:
            *outValue = static_cast<int>(function->info->max_threads);
            return succeed();
        case CUDASIM_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES: *outValue = function->maxDynamicShared; return succeed();
        default: return fail(CUDASIM_ERROR_INVALID_VALUE, "cudasim_func_get_attribute: attribute %d is not simulated", attribute);
    }
}

CUDASIM_API int cudasim_func_set_attribute(cudasim_ctx ctx, cudasim_function function, int attribute, int value) {
    CUDASIM_REQUIRE_CONTEXT(ctx, "cudasim_func_set_attribute");
    CUDASIM_REQUIRE_FUNCTION(ctx, function, "cudasim_func_set_attribute");
    if (attribute != CUDASIM_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES)
        return fail(CUDASIM_ERROR_INVALID_VALUE, "cudasim_func_set_attribute: attribute %d cannot be set", attribute);
    if (value < 0 || value > kOptInMaxDynamicShared)
        return fail(CUDASIM_ERROR_INVALID_VALUE, "cudasim_func_set_attribute: %d bytes outside 0..%d", value,
                    kOptInMaxDynamicShared);
    function->maxDynamicShared = value;
    return succeed();
}

CUDASIM_API int cudasim_launch_kernel(cudasim_ctx ctx, cudasim_function function, unsigned gridX, unsigned gridY,
                                      unsigned gridZ, unsigned blockX, unsigned blockY, unsigned blockZ,
                                      unsigned sharedBytes, cudasim_stream stream, void** kernelParams) {
    CUDASIM_REQUIRE_CONTEXT(ctx, "cudasim_launch_kernel");
    CUDASIM_REQUIRE_FUNCTION(ctx, function, "cudasim_launch_kernel");
    CUDASIM_RESOLVE_STREAM(ctx, stream, s, "cudasim_launch_kernel");
    if (int rc = check_geometry(function, gridX, gridY, gridZ, blockX, blockY, blockZ, sharedBytes); rc != CUDASIM_SUCCESS)
        return rc;
    const int paramCount = function->info->param_count;
    if (paramCount > 0 && kernelParams == nullptr)
        return fail(CUDASIM_ERROR_INVALID_VALUE, "launch %s: kernelParams is null but the kernel takes %d parameters",
                    function->info->name, paramCount);
    for (int i = 0; i < paramCount; ++i)
        if (kernelParams[i] == nullptr)
            return fail(CUDASIM_ERROR_INVALID_VALUE, "launch %s: kernelParams[%d] is null", function->info->name, i);
    Operation op{Operation::Kind::Launch};
    op.kernel = function->info;
    op.grid = uint3{gridX, gridY, gridZ};
    op.block = uint3{blockX, blockY, blockZ};
    op.sharedBytes = sharedBytes;
    void* noParams[1] = {nullptr};
    return submit(ctx, s, std::move(op), paramCount > 0 ? kernelParams : noParams);
}

}  // extern "C"
