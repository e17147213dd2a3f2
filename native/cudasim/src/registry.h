#pragma once

#include <vector>

#include "cudasim/kernel_registry.h"

namespace cudasim::detail {

// "dir/RmsNorm.cu" → "RmsNorm.cu".
const char* source_file_name(const char* path);

// Kernels registered from the .cu file named `moduleName` ("*" = all). Pointers stay valid for the
// lifetime of the library.
std::vector<const KernelInfo*> kernels_of_module(const char* moduleName);

}  // namespace cudasim::detail
