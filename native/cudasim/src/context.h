// Objects behind the C API handles, and the helpers every API file uses.
#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "../cudasim_api.h"
#include "cudasim/kernel_registry.h"
#include "worker_pool.h"

namespace cudasim::detail {

constexpr int kDefaultMaxDynamicShared = 48 * 1024;   // what every function may use without opting in
constexpr int kOptInMaxDynamicShared = 227 * 1024;    // sm_90 opt-in limit
constexpr unsigned kMaxThreadsPerBlock = 1024;

// One stream operation, executed at once or recorded into a graph with all argument values copied.
struct Operation {
    enum class Kind { Launch, CopyHtoD, CopyDtoH, CopyDtoD, Set8, Set32 };
    explicit Operation(Kind k) : kind(k) {}
    Kind kind;
    // Launch
    const KernelInfo* kernel = nullptr;      // registry entry: outlives modules, so graphs stay valid
    uint3 grid{}, block{};
    unsigned sharedBytes = 0;
    std::vector<std::max_align_t> argStorage;  // parameter values, each at its own aligned offset
    std::vector<std::size_t> argOffsets;
    // Copies and sets
    void* dst = nullptr;
    const void* src = nullptr;
    std::size_t bytes = 0;       // copies: bytes; sets: element count
    uint32_t value = 0;
};

// Records the captured launch arguments of `op` by value (for graphs).
void capture_arguments(Operation& op, void** kernelParams);

}  // namespace cudasim::detail

struct cudasim_function_st {
    const cudasim::detail::KernelInfo* info;
    int maxDynamicShared = cudasim::detail::kDefaultMaxDynamicShared;
};

struct cudasim_module_st {
    std::string name;
    std::vector<const cudasim::detail::KernelInfo*> kernels;
    std::map<std::string, std::unique_ptr<cudasim_function_st>> functions;  // created on first lookup
};

struct cudasim_graph_st {
    std::vector<cudasim::detail::Operation> nodes;
    bool invalidated = false;    // an illegal call happened during capture
    std::string invalidReason;
};

struct cudasim_graph_exec_st {
    std::vector<cudasim::detail::Operation> nodes;
};

struct cudasim_stream_st {
    std::unique_ptr<cudasim_graph_st> capture;  // non-null while capturing
};

struct cudasim_event_st {
    bool recorded = false;
    std::chrono::steady_clock::time_point time;
};

namespace cudasim::detail {
// Handles owned by a context; a handle is valid exactly while it is in its table.
template <typename T>
struct HandleTable {
    std::map<T*, std::unique_ptr<T>> items;
    T* add(std::unique_ptr<T> item) {
        T* raw = item.get();
        items.emplace(raw, std::move(item));
        return raw;
    }
    bool contains(T* item) const { return item != nullptr && items.count(item) != 0; }
    bool remove(T* item) { return items.erase(item) != 0; }
};
}  // namespace cudasim::detail

struct cudasim_ctx_st {
    explicit cudasim_ctx_st(int workers) : pool(workers) {}
    cudasim::detail::WorkerPool pool;
    std::mutex mutex;                                   // guards the tables below
    std::map<uintptr_t, std::size_t> allocations;       // device allocation base → bytes
    std::set<void*> hostAllocations;
    cudasim_stream_st defaultStream;
    cudasim::detail::HandleTable<cudasim_stream_st> streams;
    cudasim::detail::HandleTable<cudasim_event_st> events;
    cudasim::detail::HandleTable<cudasim_module_st> modules;
    std::set<cudasim_function_st*> functions;           // owned by their modules
    cudasim::detail::HandleTable<cudasim_graph_st> graphs;
    cudasim::detail::HandleTable<cudasim_graph_exec_st> execs;
};

namespace cudasim::detail {

// Records `message` as this thread's last error detail and returns `code`.
int fail(int code, const char* format, ...) __attribute__((format(printf, 2, 3)));
// This thread's last error detail (empty after a success).
const char* last_error_message();
// Clears the detail and returns CUDASIM_SUCCESS.
int succeed();

bool valid_context(cudasim_ctx ctx);
// Resolves NULL to the default stream; nullptr when `stream` is not a stream of `ctx`.
cudasim_stream_st* resolve_stream(cudasim_ctx ctx, cudasim_stream stream);

// Checks that [address, address+bytes) lies inside one live device allocation of ctx.
int check_device_range(cudasim_ctx ctx, uintptr_t address, std::size_t bytes, const char* what);

// Executes `op` now, or appends it to the stream's capture.
int submit(cudasim_ctx ctx, cudasim_stream_st* stream, Operation&& op, void** kernelParams);
// Executes one operation (a launch uses `kernelParams`, or op.argStorage when null).
int execute(cudasim_ctx ctx, const Operation& op, void** kernelParams);

}  // namespace cudasim::detail

// Early returns shared by the API entry points.
#define CUDASIM_REQUIRE_CONTEXT(ctx, call) \
    if (!valid_context(ctx)) return fail(CUDASIM_ERROR_INVALID_CONTEXT, "%s: not a live context", call)

#define CUDASIM_RESOLVE_STREAM(ctx, stream, resolved, call)                                               \
    cudasim_stream_st* resolved = resolve_stream(ctx, stream);                                            \
    if (resolved == nullptr) return fail(CUDASIM_ERROR_INVALID_HANDLE, "%s: not a stream of this context", call)
