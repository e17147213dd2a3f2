// C API: device and host allocations, copies, memsets.
#include <cstdlib>
#include <cstring>

#include <unistd.h>

#include "context.h"

using namespace cudasim::detail;

namespace {
// cudaMalloc guarantees 256-byte alignment; kernels doing 128-bit loads rely on at least 16.
constexpr std::size_t kDeviceAlignment = 256;

// Exactly `bytes` long (no rounding), so valgrind flags an access one past the end.
void* allocate_aligned(std::size_t bytes) {
    void* p = nullptr;
    return posix_memalign(&p, kDeviceAlignment, bytes) == 0 ? p : nullptr;
}

void* to_pointer(cudasim_deviceptr p) { return reinterpret_cast<void*>(static_cast<uintptr_t>(p)); }
}  // namespace

extern "C" {

CUDASIM_API int cudasim_mem_alloc(cudasim_ctx ctx, cudasim_deviceptr* outPtr, size_t bytes) {
    CUDASIM_REQUIRE_CONTEXT(ctx, "cudasim_mem_alloc");
    if (outPtr == nullptr || bytes == 0)
        return fail(CUDASIM_ERROR_INVALID_VALUE, "cudasim_mem_alloc: outPtr must be non-null and bytes > 0");
    void* p = allocate_aligned(bytes);
    if (p == nullptr) return fail(CUDASIM_ERROR_OUT_OF_MEMORY, "cudasim_mem_alloc: %zu bytes", bytes);
    // Fresh GPU memory is often zero, which hides reads of never-written data; here it reads as NaN / -1.
    if (poison_enabled()) std::memset(p, 0xff, bytes);
    {
        std::lock_guard<std::mutex> lock(ctx->mutex);
        ctx->allocations[reinterpret_cast<uintptr_t>(p)] = bytes;
    }
    *outPtr = reinterpret_cast<uintptr_t>(p);
    return succeed();
}

CUDASIM_API int cudasim_mem_free(cudasim_ctx ctx, cudasim_deviceptr ptr) {
    CUDASIM_REQUIRE_CONTEXT(ctx, "cudasim_mem_free");
    if (ptr == 0) return succeed();
    {
        std::lock_guard<std::mutex> lock(ctx->mutex);
        if (ctx->allocations.erase(static_cast<uintptr_t>(ptr)) == 0)
            return fail(CUDASIM_ERROR_INVALID_VALUE, "cudasim_mem_free: 0x%llx is not the start of a live allocation",
                        static_cast<unsigned long long>(ptr));
    }
    std::free(to_pointer(ptr));
    return succeed();
}

CUDASIM_API int cudasim_mem_get_info(cudasim_ctx ctx, size_t* outFree, size_t* outTotal) {
    CUDASIM_REQUIRE_CONTEXT(ctx, "cudasim_mem_get_info");
    if (outFree == nullptr || outTotal == nullptr)
        return fail(CUDASIM_ERROR_INVALID_VALUE, "cudasim_mem_get_info: outFree and outTotal must be non-null");
    const std::size_t total = static_cast<std::size_t>(sysconf(_SC_PHYS_PAGES)) * static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
    std::size_t used = 0;
    {
        std::lock_guard<std::mutex> lock(ctx->mutex);
        for (const auto& [base, bytes] : ctx->allocations) used += bytes;
    }
    *outTotal = total;
    *outFree = used < total ? total - used : 0;
    return succeed();
}

CUDASIM_API int cudasim_mem_alloc_host(cudasim_ctx ctx, void** outPtr, size_t bytes) {
    CUDASIM_REQUIRE_CONTEXT(ctx, "cudasim_mem_alloc_host");
    if (outPtr == nullptr || bytes == 0)
        return fail(CUDASIM_ERROR_INVALID_VALUE, "cudasim_mem_alloc_host: outPtr must be non-null and bytes > 0");
    void* p = allocate_aligned(bytes);
    if (p == nullptr) return fail(CUDASIM_ERROR_OUT_OF_MEMORY, "cudasim_mem_alloc_host: %zu bytes", bytes);
    {
        std::lock_guard<std::mutex> lock(ctx->mutex);
        ctx->hostAllocations.insert(p);
    }
    *outPtr = p;
    return succeed();
}

CUDASIM_API int cudasim_mem_free_host(cudasim_ctx ctx, void* ptr) {
    CUDASIM_REQUIRE_CONTEXT(ctx, "cudasim_mem_free_host");
    {
        std::lock_guard<std::mutex> lock(ctx->mutex);
        if (ctx->hostAllocations.erase(ptr) == 0)
            return fail(CUDASIM_ERROR_INVALID_VALUE, "cudasim_mem_free_host: %p was not allocated by cudasim_mem_alloc_host", ptr);
    }
    std::free(ptr);
    return succeed();
}

CUDASIM_API int cudasim_memcpy_htod(cudasim_ctx ctx, cudasim_deviceptr dst, const void* src, size_t bytes,
                                    cudasim_stream stream) {
    CUDASIM_REQUIRE_CONTEXT(ctx, "cudasim_memcpy_htod");
    CUDASIM_RESOLVE_STREAM(ctx, stream, s, "cudasim_memcpy_htod");
    if (src == nullptr && bytes != 0) return fail(CUDASIM_ERROR_INVALID_VALUE, "cudasim_memcpy_htod: src is null");
    Operation op{Operation::Kind::CopyHtoD};
    op.dst = to_pointer(dst);
    op.src = src;
    op.bytes = bytes;
    return submit(ctx, s, std::move(op), nullptr);
}

CUDASIM_API int cudasim_memcpy_dtoh(cudasim_ctx ctx, void* dst, cudasim_deviceptr src, size_t bytes,
                                    cudasim_stream stream) {
    CUDASIM_REQUIRE_CONTEXT(ctx, "cudasim_memcpy_dtoh");
    CUDASIM_RESOLVE_STREAM(ctx, stream, s, "cudasim_memcpy_dtoh");
    if (dst == nullptr && bytes != 0) return fail(CUDASIM_ERROR_INVALID_VALUE, "cudasim_memcpy_dtoh: dst is null");
    Operation op{Operation::Kind::CopyDtoH};
    op.dst = dst;
    op.src = to_pointer(src);
    op.bytes = bytes;
    return submit(ctx, s, std::move(op), nullptr);
}

CUDASIM_API int cudasim_memcpy_dtod(cudasim_ctx ctx, cudasim_deviceptr dst, cudasim_deviceptr src, size_t bytes,
                                    cudasim_stream stream) {
    CUDASIM_REQUIRE_CONTEXT(ctx, "cudasim_memcpy_dtod");
    CUDASIM_RESOLVE_STREAM(ctx, stream, s, "cudasim_memcpy_dtod");
    Operation op{Operation::Kind::CopyDtoD};
    op.dst = to_pointer(dst);
    op.src = to_pointer(src);
    op.bytes = bytes;
    return submit(ctx, s, std::move(op), nullptr);
}

CUDASIM_API int cudasim_memset_d8(cudasim_ctx ctx, cudasim_deviceptr dst, uint8_t value, size_t count,
                                  cudasim_stream stream) {
    CUDASIM_REQUIRE_CONTEXT(ctx, "cudasim_memset_d8");
    CUDASIM_RESOLVE_STREAM(ctx, stream, s, "cudasim_memset_d8");
    Operation op{Operation::Kind::Set8};
    op.dst = to_pointer(dst);
    op.bytes = count;
    op.value = value;
    return submit(ctx, s, std::move(op), nullptr);
}

CUDASIM_API int cudasim_memset_d32(cudasim_ctx ctx, cudasim_deviceptr dst, uint32_t value, size_t count,
                                   cudasim_stream stream) {
    CUDASIM_REQUIRE_CONTEXT(ctx, "cudasim_memset_d32");
    CUDASIM_RESOLVE_STREAM(ctx, stream, s, "cudasim_memset_d32");
    if (dst % 4 != 0) return fail(CUDASIM_ERROR_INVALID_VALUE, "cudasim_memset_d32: destination is not 4-byte aligned");
    Operation op{Operation::Kind::Set32};
    op.dst = to_pointer(dst);
    op.bytes = count;
    op.value = value;
    return submit(ctx, s, std::move(op), nullptr);
}

}  // extern "C"
