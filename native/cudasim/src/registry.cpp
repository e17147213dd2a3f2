// The process-wide list of kernels compiled into this library, filled during static initialisation.
#include "registry.h"

#include <cstring>
#include <deque>
#include <mutex>

namespace cudasim::detail {

namespace {
struct Registry {
    std::mutex mutex;
    std::deque<KernelInfo> kernels;  // deque: pointers handed out stay valid
};
Registry& registry() {
    static Registry instance;  // function-local: safe whatever the order of static initialisers
    return instance;
}
}  // namespace

void register_kernel(const KernelInfo& info) {
    Registry& r = registry();
    std::lock_guard<std::mutex> lock(r.mutex);
    for (const KernelInfo& existing : r.kernels)
        if (existing.invoke == info.invoke) return;  // the same kernel registered twice in one TU
    r.kernels.push_back(info);
}

const char* source_file_name(const char* path) {
    const char* name = path;
    for (const char* p = path; *p; ++p)
        if (*p == '/' || *p == '\\') name = p + 1;
    return name;
}

std::vector<const KernelInfo*> kernels_of_module(const char* moduleName) {
    Registry& r = registry();
    std::lock_guard<std::mutex> lock(r.mutex);
    std::vector<const KernelInfo*> result;
    const bool all = std::strcmp(moduleName, "*") == 0;
    for (const KernelInfo& info : r.kernels)
        if (all || std::strcmp(source_file_name(info.source), moduleName) == 0) result.push_back(&info);
    return result;
}

}  // namespace cudasim::detail
