// C API: errors, version, contexts, device attributes.
#include <cstdio>
#include <cstdlib>
#include <new>

#include "context.h"

using namespace cudasim::detail;

namespace cudasim::detail {

namespace {
std::mutex g_contextsMutex;
std::set<cudasim_ctx_st*> g_contexts;

struct ErrorText { int code; const char* name; const char* description; };
constexpr ErrorText kErrors[] = {
    {CUDASIM_SUCCESS, "CUDA_SUCCESS", "no error"},
    {CUDASIM_ERROR_INVALID_VALUE, "CUDA_ERROR_INVALID_VALUE", "invalid argument"},
    {CUDASIM_ERROR_OUT_OF_MEMORY, "CUDA_ERROR_OUT_OF_MEMORY", "out of memory"},
    {CUDASIM_ERROR_INVALID_CONTEXT, "CUDA_ERROR_INVALID_CONTEXT", "invalid context handle"},
    {CUDASIM_ERROR_INVALID_HANDLE, "CUDA_ERROR_INVALID_HANDLE", "invalid resource handle"},
    {CUDASIM_ERROR_ILLEGAL_STATE, "CUDA_ERROR_ILLEGAL_STATE", "operation not allowed in the current state"},
    {CUDASIM_ERROR_NOT_FOUND, "CUDA_ERROR_NOT_FOUND", "named symbol not found"},
    {CUDASIM_ERROR_NOT_READY, "CUDA_ERROR_NOT_READY", "device not ready"},
    {CUDASIM_ERROR_LAUNCH_OUT_OF_RESOURCES, "CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES", "too many resources requested for launch"},
    {CUDASIM_ERROR_LAUNCH_FAILED, "CUDA_ERROR_LAUNCH_FAILED", "unspecified launch failure"},
    {CUDASIM_ERROR_NOT_SUPPORTED, "CUDA_ERROR_NOT_SUPPORTED", "operation not supported"},
    {CUDASIM_ERROR_STREAM_CAPTURE_UNSUPPORTED, "CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED", "operation not permitted when stream is capturing"},
    {CUDASIM_ERROR_STREAM_CAPTURE_INVALIDATED, "CUDA_ERROR_STREAM_CAPTURE_INVALIDATED", "operation failed due to a previous error during capture"},
    {CUDASIM_ERROR_STREAM_CAPTURE_UNMATCHED, "CUDA_ERROR_STREAM_CAPTURE_UNMATCHED", "capture was not initiated in this stream"},
    {CUDASIM_ERROR_UNKNOWN, "CUDA_ERROR_UNKNOWN", "unknown error"},
};
const ErrorText* find_error(int code) {
    for (const ErrorText& e : kErrors)
        if (e.code == code) return &e;
    return nullptr;
}

int default_worker_count() {
    if (const char* env = std::getenv("SPECEE_CUDASIM_WORKERS")) {
        const long n = std::strtol(env, nullptr, 10);
        if (n >= 1 && n <= 1024) return static_cast<int>(n);
    }
    const unsigned hw = std::thread::hardware_concurrency();
    return hw == 0 ? 1 : static_cast<int>(hw);
}
}  // namespace

bool valid_context(cudasim_ctx ctx) {
    std::lock_guard<std::mutex> lock(g_contextsMutex);
    return ctx != nullptr && g_contexts.count(ctx) != 0;
}
}  // namespace cudasim::detail

extern "C" {

CUDASIM_API int cudasim_api_version(void) { return CUDASIM_API_VERSION; }

CUDASIM_API const char* cudasim_error_name(int error) {
    const ErrorText* e = find_error(error);
    return e ? e->name : "CUDA_ERROR_UNRECOGNIZED";
}

CUDASIM_API const char* cudasim_error_string(int error) {
    const ErrorText* e = find_error(error);
    return e ? e->description : "unrecognized error code";
}

CUDASIM_API const char* cudasim_last_error_message(void) { return last_error_message(); }

CUDASIM_API int cudasim_ctx_create(int workerCount, cudasim_ctx* outCtx) {
    if (outCtx == nullptr || workerCount < 0 || workerCount > 1024)
        return fail(CUDASIM_ERROR_INVALID_VALUE, "cudasim_ctx_create: workerCount must be 0..1024 and outCtx non-null");
    cudasim_ctx ctx;
    try {
        ctx = new cudasim_ctx_st(workerCount == 0 ? default_worker_count() : workerCount);
    } catch (const std::exception& e) {
        return fail(CUDASIM_ERROR_OUT_OF_MEMORY, "cudasim_ctx_create: %s", e.what());
    }
    {
        std::lock_guard<std::mutex> lock(g_contextsMutex);
        g_contexts.insert(ctx);
    }
    *outCtx = ctx;
    return succeed();
}

CUDASIM_API int cudasim_ctx_destroy(cudasim_ctx ctx) {
    {
        std::lock_guard<std::mutex> lock(g_contextsMutex);
        if (ctx == nullptr || g_contexts.erase(ctx) == 0)
            return fail(CUDASIM_ERROR_INVALID_CONTEXT, "cudasim_ctx_destroy: not a live context");
    }
    for (auto& [base, bytes] : ctx->allocations) std::free(reinterpret_cast<void*>(base));
    for (void* p : ctx->hostAllocations) std::free(p);
    delete ctx;
    return succeed();
}

CUDASIM_API int cudasim_ctx_synchronize(cudasim_ctx ctx) {
    if (!valid_context(ctx)) return fail(CUDASIM_ERROR_INVALID_CONTEXT, "cudasim_ctx_synchronize: not a live context");
    std::lock_guard<std::mutex> lock(ctx->mutex);
    for (auto& [raw, stream] : ctx->streams.items)
        if (stream->capture)
            return fail(CUDASIM_ERROR_STREAM_CAPTURE_UNSUPPORTED, "cudasim_ctx_synchronize: a stream is capturing");
    return succeed();
}

CUDASIM_API int cudasim_device_get_name(cudasim_ctx ctx, char* name, int length) {
    if (!valid_context(ctx)) return fail(CUDASIM_ERROR_INVALID_CONTEXT, "cudasim_device_get_name: not a live context");
    if (name == nullptr || length <= 0) return fail(CUDASIM_ERROR_INVALID_VALUE, "cudasim_device_get_name: empty buffer");
    std::snprintf(name, static_cast<std::size_t>(length), "cudasim (%d workers)", ctx->pool.worker_count());
    return succeed();
}

CUDASIM_API int cudasim_device_get_attribute(cudasim_ctx ctx, int attribute, int* outValue) {
    if (!valid_context(ctx)) return fail(CUDASIM_ERROR_INVALID_CONTEXT, "cudasim_device_get_attribute: not a live context");
    if (outValue == nullptr) return fail(CUDASIM_ERROR_INVALID_VALUE, "cudasim_device_get_attribute: outValue is null");
    switch (attribute) {
        case CUDASIM_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK: *outValue = kMaxThreadsPerBlock; break;
        case CUDASIM_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_X: *outValue = 1024; break;
        case CUDASIM_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Y: *outValue = 1024; break;
        case CUDASIM_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Z: *outValue = 64; break;
        case CUDASIM_DEVICE_ATTRIBUTE_MAX_GRID_DIM_X: *outValue = 2147483647; break;
        case CUDASIM_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Y: *outValue = 65535; break;
        case CUDASIM_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Z: *outValue = 65535; break;
        case CUDASIM_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK: *outValue = kDefaultMaxDynamicShared; break;
        case CUDASIM_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN: *outValue = kOptInMaxDynamicShared; break;
        case CUDASIM_DEVICE_ATTRIBUTE_WARP_SIZE: *outValue = 32; break;
        case CUDASIM_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT: *outValue = ctx->pool.worker_count(); break;
        // 8.0: the simulator runs no architecture-specific path, so host code must not pick sm_90-only ones.
        case CUDASIM_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR: *outValue = 8; break;
        case CUDASIM_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR: *outValue = 0; break;
        default:
            return fail(CUDASIM_ERROR_INVALID_VALUE, "cudasim_device_get_attribute: attribute %d is not simulated", attribute);
    }
    return succeed();
}

}  // extern "C"
