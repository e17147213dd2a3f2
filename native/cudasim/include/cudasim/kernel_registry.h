// How kernels compiled into the simulator library become launchable by name.
//
// The build appends `SPECEE_CUDASIM_REGISTER_KERNEL(name)` to every translated .cu file, one per
// `extern "C" __global__ void name(` it finds. The macro instantiates a trampoline that unpacks
// cuLaunchKernel-style `void** args` (args[i] points at the value of parameter i) into a direct typed call,
// and records the parameter sizes so graph capture can copy argument values.
#pragma once

#include <cstddef>
#include <type_traits>
#include <utility>

namespace cudasim::detail {

using KernelInvoker = void (*)(void** args);

constexpr int kMaxKernelParams = 64;

struct KernelInfo {
    const char* name;       // the extern "C" name
    const char* source;     // __FILE__ of the .cu (after #line), reduced to its file name at lookup
    KernelInvoker invoke;
    unsigned max_threads;   // first __launch_bounds__ argument, or 1024
    int param_count;
    std::size_t param_sizes[kMaxKernelParams];
    std::size_t param_aligns[kMaxKernelParams];
};

// Adds a kernel to the process-wide registry (called during static initialisation of the library).
void register_kernel(const KernelInfo& info);

template <typename F>
struct KernelTraits;

template <typename... Args>
struct KernelTraits<void (*)(Args...)> {
    static_assert(sizeof...(Args) <= kMaxKernelParams, "too many kernel parameters");
    static_assert(((alignof(std::remove_reference_t<Args>) <= alignof(std::max_align_t)) && ...),
                  "kernel parameters aligned beyond max_align_t cannot be captured into graphs");

    template <void (*Fn)(Args...), std::size_t... I>
    static void call(void** args, std::index_sequence<I...>) {
        Fn(*static_cast<std::remove_cv_t<std::remove_reference_t<Args>>*>(args[I])...);
    }
    template <void (*Fn)(Args...)>
    static void invoke(void** args) { call<Fn>(args, std::index_sequence_for<Args...>{}); }

    template <void (*Fn)(Args...)>
    static KernelInfo describe(const char* name, const char* source, unsigned maxThreads) {
        KernelInfo info{name, source, &invoke<Fn>, maxThreads, static_cast<int>(sizeof...(Args)), {}, {}};
        const std::size_t sizes[] = {sizeof(std::remove_reference_t<Args>)..., 0};
        const std::size_t aligns[] = {alignof(std::remove_reference_t<Args>)..., 1};
        for (std::size_t i = 0; i < sizeof...(Args); ++i) {
            info.param_sizes[i] = sizes[i];
            info.param_aligns[i] = aligns[i];
        }
        return info;
    }
};

struct KernelRegistrar {
    explicit KernelRegistrar(const KernelInfo& info) { register_kernel(info); }
};

}  // namespace cudasim::detail

#define SPECEE_CUDASIM_CONCAT_INNER(a, b) a##b
#define SPECEE_CUDASIM_CONCAT(a, b) SPECEE_CUDASIM_CONCAT_INNER(a, b)

// Registers `fn` (an extern "C" kernel defined above in this translation unit) under its own name.
#define SPECEE_CUDASIM_REGISTER_KERNEL(fn) SPECEE_CUDASIM_REGISTER_KERNEL_BOUNDED(fn, 1024)

// Same, for a kernel declared with __launch_bounds__(maxThreads[, ...]): launches with more threads per
// block fail, as on the GPU.
#define SPECEE_CUDASIM_REGISTER_KERNEL_BOUNDED(fn, ...)                                                   \
    static const ::cudasim::detail::KernelRegistrar SPECEE_CUDASIM_CONCAT(specee_cudasim_registrar_,      \
                                                                          __COUNTER__){                   \
        ::cudasim::detail::KernelTraits<decltype(&fn)>::template describe<&fn>(                             \
            #fn, __FILE__, static_cast<unsigned>(SPECEE_CUDASIM_FIRST_ARG(__VA_ARGS__, 0)))}
#define SPECEE_CUDASIM_FIRST_ARG(first, ...) (first)
