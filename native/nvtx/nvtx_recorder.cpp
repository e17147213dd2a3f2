// A stand-in for NVIDIA's libnvToolsExt that records the calls it gets, so the tests can check which NVTX ranges
// and marks the engine emits without a profiler or the CUDA toolkit. Same exported names and signatures as
// NVTX's v2 C API (nvtxRangePushA, nvtxRangePop, nvtxMarkA), plus two functions to read and clear the record.
// Record format: "push:<name>;" "pop;" "mark:<name>;" in call order (all threads, one lock).
#include <mutex>
#include <string>

#if defined(_WIN32)
#define NVTX_RECORDER_API extern "C" __declspec(dllexport)
#else
#define NVTX_RECORDER_API extern "C" __attribute__((visibility("default")))
#endif

namespace {
std::mutex g_mutex;
std::string g_log;
std::string g_snapshot;  // what nvtx_recorder_log last returned; stays valid until the next call
int g_depth = 0;
}  // namespace

NVTX_RECORDER_API int nvtxRangePushA(const char* message) {
    std::lock_guard<std::mutex> lock(g_mutex);
    g_log += "push:";
    g_log += message != nullptr ? message : "(null)";
    g_log += ';';
    return g_depth++;
}

NVTX_RECORDER_API int nvtxRangePop(void) {
    std::lock_guard<std::mutex> lock(g_mutex);
    g_log += "pop;";
    return g_depth > 0 ? --g_depth : -1;  // NVTX returns a negative value on an unmatched pop
}

NVTX_RECORDER_API void nvtxMarkA(const char* message) {
    std::lock_guard<std::mutex> lock(g_mutex);
    g_log += "mark:";
    g_log += message != nullptr ? message : "(null)";
    g_log += ';';
}

NVTX_RECORDER_API const char* nvtx_recorder_log(void) {
    std::lock_guard<std::mutex> lock(g_mutex);
    g_snapshot = g_log;
    return g_snapshot.c_str();
}

NVTX_RECORDER_API void nvtx_recorder_clear(void) {
    std::lock_guard<std::mutex> lock(g_mutex);
    g_log.clear();
    g_depth = 0;
}
