// Stream operations: validation, immediate execution, capture into graphs.
#include <cstdarg>
#include <cstdio>
#include <cstring>

#include "context.h"

namespace cudasim::detail {

namespace {
thread_local std::string t_lastError;
}  // namespace

const char* last_error_message() { return t_lastError.c_str(); }

int fail(int code, const char* format, ...) {
    char text[1024];
    va_list args;
    va_start(args, format);
    std::vsnprintf(text, sizeof text, format, args);
    va_end(args);
    t_lastError = text;
    return code;
}

int succeed() {
    t_lastError.clear();
    return CUDASIM_SUCCESS;
}

cudasim_stream_st* resolve_stream(cudasim_ctx ctx, cudasim_stream stream) {
    if (stream == nullptr) return &ctx->defaultStream;
    std::lock_guard<std::mutex> lock(ctx->mutex);
    return ctx->streams.contains(stream) ? stream : nullptr;
}

int check_device_range(cudasim_ctx ctx, uintptr_t address, std::size_t bytes, const char* what) {
    if (bytes == 0) return CUDASIM_SUCCESS;
    std::lock_guard<std::mutex> lock(ctx->mutex);
    auto it = ctx->allocations.upper_bound(address);
    if (it != ctx->allocations.begin()) {
        --it;
        const uintptr_t base = it->first;
        if (address >= base && address - base <= it->second && bytes <= it->second - (address - base))
            return CUDASIM_SUCCESS;
        return fail(CUDASIM_ERROR_INVALID_VALUE,
                    "%s: device range 0x%llx + %zu bytes exceeds the allocation at 0x%llx of %zu bytes", what,
                    static_cast<unsigned long long>(address), bytes, static_cast<unsigned long long>(base),
                    it->second);
    }
    return fail(CUDASIM_ERROR_INVALID_VALUE, "%s: 0x%llx is not inside a live device allocation", what,
                static_cast<unsigned long long>(address));
}

void capture_arguments(Operation& op, void** kernelParams) {
    const KernelInfo& info = *op.kernel;
    std::size_t offset = 0;
    op.argOffsets.resize(info.param_count);
    for (int i = 0; i < info.param_count; ++i) {
        const std::size_t align = info.param_aligns[i];
        offset = (offset + align - 1) / align * align;
        op.argOffsets[i] = offset;
        offset += info.param_sizes[i];
    }
    op.argStorage.assign((offset + sizeof(std::max_align_t) - 1) / sizeof(std::max_align_t), std::max_align_t{});
    auto* base = reinterpret_cast<unsigned char*>(op.argStorage.data());
    for (int i = 0; i < info.param_count; ++i) std::memcpy(base + op.argOffsets[i], kernelParams[i], info.param_sizes[i]);
}

namespace {
int validate(cudasim_ctx ctx, const Operation& op) {
    using Kind = Operation::Kind;
    const auto address = [](const void* p) { return reinterpret_cast<uintptr_t>(p); };
    switch (op.kind) {
        case Kind::Launch: return CUDASIM_SUCCESS;
        case Kind::CopyHtoD: return check_device_range(ctx, address(op.dst), op.bytes, "memcpy HtoD destination");
        case Kind::CopyDtoH: return check_device_range(ctx, address(op.src), op.bytes, "memcpy DtoH source");
        case Kind::CopyDtoD: {
            const int rc = check_device_range(ctx, address(op.dst), op.bytes, "memcpy DtoD destination");
            return rc != CUDASIM_SUCCESS ? rc : check_device_range(ctx, address(op.src), op.bytes, "memcpy DtoD source");
        }
        case Kind::Set8: return check_device_range(ctx, address(op.dst), op.bytes, "memset D8");
        case Kind::Set32: return check_device_range(ctx, address(op.dst), op.bytes * 4, "memset D32");
    }
    return CUDASIM_ERROR_UNKNOWN;
}

int run(cudasim_ctx ctx, const Operation& op, void** kernelParams) {
    using Kind = Operation::Kind;
    switch (op.kind) {
        case Kind::Launch: {
            const KernelInfo& info = *op.kernel;
            void* captured[kMaxKernelParams];
            if (kernelParams == nullptr) {  // graph replay: the parameter values live in the node
                auto* base = reinterpret_cast<unsigned char*>(const_cast<std::max_align_t*>(op.argStorage.data()));
                for (int i = 0; i < info.param_count; ++i) captured[i] = base + op.argOffsets[i];
                kernelParams = captured;
            }
            const LaunchDesc launch{info.invoke, kernelParams, op.grid, op.block, op.sharedBytes, info.name};
            std::string error;
            if (!ctx->pool.run_grid(launch, error)) return fail(CUDASIM_ERROR_LAUNCH_FAILED, "%s", error.c_str());
            return CUDASIM_SUCCESS;
        }
        case Kind::CopyHtoD:
        case Kind::CopyDtoH:
        case Kind::CopyDtoD:
            if (op.bytes != 0) std::memmove(op.dst, op.src, op.bytes);
            return CUDASIM_SUCCESS;
        case Kind::Set8:
            std::memset(op.dst, static_cast<int>(op.value & 0xffu), op.bytes);
            return CUDASIM_SUCCESS;
        case Kind::Set32: {
            auto* words = static_cast<uint32_t*>(op.dst);
            for (std::size_t i = 0; i < op.bytes; ++i) words[i] = op.value;
            return CUDASIM_SUCCESS;
        }
    }
    return CUDASIM_ERROR_UNKNOWN;
}
}  // namespace

int execute(cudasim_ctx ctx, const Operation& op, void** kernelParams) {
    const int rc = validate(ctx, op);
    return rc != CUDASIM_SUCCESS ? rc : run(ctx, op, kernelParams);
}

int submit(cudasim_ctx ctx, cudasim_stream_st* stream, Operation&& op, void** kernelParams) {
    if (stream->capture == nullptr) {
        const int rc = execute(ctx, op, kernelParams);
        return rc != CUDASIM_SUCCESS ? rc : succeed();
    }
    const int rc = validate(ctx, op);
    if (rc != CUDASIM_SUCCESS) return rc;
    if (op.kind == Operation::Kind::Launch) capture_arguments(op, kernelParams);
    stream->capture->nodes.push_back(std::move(op));
    return succeed();
}

}  // namespace cudasim::detail
