/*
 * cudasim_api.h — the C API of libspecee_cudasim, a CPU execution model of the CUDA thread hierarchy.
 *
 * Consumers: the C# `SimDevice` (P/Invoke) and the C++ tests. Shape mirrors the CUDA driver API so the
 * C# device seam can treat `CudaDriverDevice` and `SimDevice` alike:
 *
 *   cudasim                          driver API
 *   -------------------------------  ------------------------------------------
 *   cudasim_ctx_create/destroy       cuCtxCreate / cuCtxDestroy (one simulated device per context)
 *   cudasim_mem_alloc/free           cuMemAlloc_v2 / cuMemFree_v2 (plain host memory, 256-byte aligned)
 *   cudasim_memcpy_htod/dtoh/dtod    cuMemcpyHtoDAsync_v2 / DtoH / DtoD (stream-ordered)
 *   cudasim_memset_d8/d32            cuMemsetD8Async / cuMemsetD32Async
 *   cudasim_stream_*                 cuStreamCreate / Destroy / Synchronize / Query
 *   cudasim_event_*                  cuEventCreate / Record / Synchronize / Query / ElapsedTime
 *   cudasim_stream_wait_event        cuStreamWaitEvent
 *   cudasim_mem_get_info             cuMemGetInfo_v2
 *   cudasim_device_get_name          cuDeviceGetName
 *   cudasim_module_load              cuModuleLoadData — looks the kernels up in the compiled-in registry
 *   cudasim_module_get_function      cuModuleGetFunction
 *   cudasim_func_set_attribute       cuFuncSetAttribute (MAX_DYNAMIC_SHARED_SIZE_BYTES)
 *   cudasim_launch_kernel            cuLaunchKernel (kernelParams = void** of pointers to each argument)
 *   cudasim_stream_begin/end_capture cuStreamBeginCapture_v2 / cuStreamEndCapture
 *   cudasim_graph_instantiate/launch cuGraphInstantiateWithFlags / cuGraphLaunch
 *
 * Conventions
 *   - Every function returns an int error code whose values equal the CUresult of the same name
 *     (CUDASIM_SUCCESS = CUDA_SUCCESS = 0, ...), so the C# side can share one error table.
 *     cudasim_error_name(code) gives "CUDA_ERROR_INVALID_VALUE"-style names (like cuGetErrorName);
 *     cudasim_last_error_message() gives a one-line detail of the last failure on the calling OS thread
 *     (which argument, which kernel, which block deadlocked).
 *   - Every call except the error/version queries takes the context first. A NULL stream means the
 *     context's default stream.
 *   - Execution is synchronous: an operation on a stream has completed when the call returns, which is
 *     one valid schedule of CUDA's in-order stream semantics. Stream-ordering rules are still enforced
 *     where they are observable (capture, events).
 *   - Graph capture: while a stream captures, operations on it are recorded, not executed. Argument
 *     VALUES are copied at capture time (kernel parameters, pointers, sizes, memset values); host memory
 *     behind a memcpy source/destination pointer is read/written at replay, as in CUDA.
 *     cudasim_stream_synchronize/_query and cudasim_event_record on a capturing stream fail with
 *     CUDASIM_ERROR_STREAM_CAPTURE_UNSUPPORTED and invalidate the capture (end_capture then returns
 *     CUDASIM_ERROR_STREAM_CAPTURE_INVALIDATED), as in CUDA. The default (NULL) stream cannot capture.
 *     Launching an executable graph into a capturing stream appends its operations.
 *   - A kernel launch failure (a block deadlocked at a barrier or warp-synchronous call) is returned by
 *     the launch (or graph launch) and is NOT sticky.
 *   - Thread safety: every call may be made from any host thread; launches on one context serialise.
 *
 * Kernels are C++-compiled .cu files linked into this library (see native/cudasim/cudasim.h and
 * native/cudasim/README.md). A "module" is the set of kernels compiled from one .cu file; its name is
 * the file name ("RmsNorm.cu"). The name "*" loads every registered kernel.
 *
 * ABI stability: this header is the contract with the C# P/Invoke layer. Additions only; bump
 * CUDASIM_API_VERSION when anything is added.
 */
#ifndef SPECEE_CUDASIM_API_H
#define SPECEE_CUDASIM_API_H

#include <stddef.h>
#include <stdint.h>

#if defined(_WIN32)
#define CUDASIM_API __declspec(dllexport)
#else
#define CUDASIM_API __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* 1: first release. 2: + cudasim_stream_wait_event, cudasim_mem_get_info, cudasim_device_get_name. */
#define CUDASIM_API_VERSION 2

/* Error codes: numerically equal to the CUresult of the same name. */
enum cudasim_error {
    CUDASIM_SUCCESS = 0,
    CUDASIM_ERROR_INVALID_VALUE = 1,
    CUDASIM_ERROR_OUT_OF_MEMORY = 2,
    CUDASIM_ERROR_INVALID_CONTEXT = 201,
    CUDASIM_ERROR_INVALID_HANDLE = 400,
    CUDASIM_ERROR_ILLEGAL_STATE = 401,
    CUDASIM_ERROR_NOT_FOUND = 500,
    CUDASIM_ERROR_NOT_READY = 600,
    CUDASIM_ERROR_LAUNCH_OUT_OF_RESOURCES = 701,
    CUDASIM_ERROR_LAUNCH_FAILED = 719,
    CUDASIM_ERROR_NOT_SUPPORTED = 801,
    CUDASIM_ERROR_STREAM_CAPTURE_UNSUPPORTED = 900,
    CUDASIM_ERROR_STREAM_CAPTURE_INVALIDATED = 901,
    CUDASIM_ERROR_STREAM_CAPTURE_UNMATCHED = 903,
    CUDASIM_ERROR_UNKNOWN = 999
};

/* Device attributes: numerically equal to CU_DEVICE_ATTRIBUTE_*. */
enum cudasim_device_attribute {
    CUDASIM_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK = 1,
    CUDASIM_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_X = 2,
    CUDASIM_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Y = 3,
    CUDASIM_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Z = 4,
    CUDASIM_DEVICE_ATTRIBUTE_MAX_GRID_DIM_X = 5,
    CUDASIM_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Y = 6,
    CUDASIM_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Z = 7,
    CUDASIM_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK = 8,
    CUDASIM_DEVICE_ATTRIBUTE_WARP_SIZE = 10,
    CUDASIM_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT = 16, /* = worker threads of the context */
    CUDASIM_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75,
    CUDASIM_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR = 76,
    CUDASIM_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN = 97
};

/* Function attributes: numerically equal to CU_FUNC_ATTRIBUTE_*. */
enum cudasim_function_attribute {
    CUDASIM_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK = 0,     /* get only: __launch_bounds__ or 1024 */
    CUDASIM_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES = 8 /* get/set; default 48 KiB, max 227 KiB */
};

typedef uint64_t cudasim_deviceptr;                 /* like CUdeviceptr: a host address as an integer */
typedef struct cudasim_ctx_st* cudasim_ctx;
typedef struct cudasim_stream_st* cudasim_stream;   /* NULL = the context's default stream */
typedef struct cudasim_event_st* cudasim_event;
typedef struct cudasim_module_st* cudasim_module;
typedef struct cudasim_function_st* cudasim_function;
typedef struct cudasim_graph_st* cudasim_graph;
typedef struct cudasim_graph_exec_st* cudasim_graph_exec;

/* ---- errors and version ------------------------------------------------------------------------- */
CUDASIM_API int cudasim_api_version(void);                     /* returns CUDASIM_API_VERSION */
CUDASIM_API const char* cudasim_error_name(int error);         /* "CUDA_ERROR_INVALID_VALUE"; never NULL */
CUDASIM_API const char* cudasim_error_string(int error);       /* human description; never NULL */
CUDASIM_API const char* cudasim_last_error_message(void);      /* detail of the last failure on this thread */

/* ---- context ------------------------------------------------------------------------------------ */
/* workerCount = OS threads that run blocks (the simulated "SMs"); 0 = hardware concurrency, or the
 * SPECEE_CUDASIM_WORKERS environment variable when set. Results of kernels without atomics are bitwise
 * identical for every worker count. */
CUDASIM_API int cudasim_ctx_create(int workerCount, cudasim_ctx* outCtx);
CUDASIM_API int cudasim_ctx_destroy(cudasim_ctx ctx);          /* frees everything the context owns */
CUDASIM_API int cudasim_ctx_synchronize(cudasim_ctx ctx);
CUDASIM_API int cudasim_device_get_attribute(cudasim_ctx ctx, int attribute, int* outValue);
/* "cudasim (N workers)", NUL-terminated, truncated to `length` bytes. */
CUDASIM_API int cudasim_device_get_name(cudasim_ctx ctx, char* name, int length);

/* ---- memory ------------------------------------------------------------------------------------- */
/* New device memory reads as 0xff bytes (NaN/-1), like uninitialised GPU memory that happens not to be
 * zero; SPECEE_CUDASIM_POISON=0 turns that off. */
CUDASIM_API int cudasim_mem_alloc(cudasim_ctx ctx, cudasim_deviceptr* outPtr, size_t bytes);
CUDASIM_API int cudasim_mem_free(cudasim_ctx ctx, cudasim_deviceptr ptr);  /* 0 is accepted, like cuMemFree */
/* total = physical memory of the host; free = total minus this context's live device allocations. */
CUDASIM_API int cudasim_mem_get_info(cudasim_ctx ctx, size_t* outFree, size_t* outTotal);
CUDASIM_API int cudasim_mem_alloc_host(cudasim_ctx ctx, void** outPtr, size_t bytes); /* "pinned" */
CUDASIM_API int cudasim_mem_free_host(cudasim_ctx ctx, void* ptr);
/* Copies and memsets check that the device range lies inside one live allocation. */
CUDASIM_API int cudasim_memcpy_htod(cudasim_ctx ctx, cudasim_deviceptr dst, const void* src, size_t bytes,
                                    cudasim_stream stream);
CUDASIM_API int cudasim_memcpy_dtoh(cudasim_ctx ctx, void* dst, cudasim_deviceptr src, size_t bytes,
                                    cudasim_stream stream);
CUDASIM_API int cudasim_memcpy_dtod(cudasim_ctx ctx, cudasim_deviceptr dst, cudasim_deviceptr src, size_t bytes,
                                    cudasim_stream stream);
CUDASIM_API int cudasim_memset_d8(cudasim_ctx ctx, cudasim_deviceptr dst, uint8_t value, size_t count,
                                  cudasim_stream stream);
CUDASIM_API int cudasim_memset_d32(cudasim_ctx ctx, cudasim_deviceptr dst, uint32_t value, size_t count,
                                   cudasim_stream stream);

/* ---- streams and events ------------------------------------------------------------------------- */
CUDASIM_API int cudasim_stream_create(cudasim_ctx ctx, cudasim_stream* outStream);
CUDASIM_API int cudasim_stream_destroy(cudasim_ctx ctx, cudasim_stream stream);
CUDASIM_API int cudasim_stream_synchronize(cudasim_ctx ctx, cudasim_stream stream);
CUDASIM_API int cudasim_stream_query(cudasim_ctx ctx, cudasim_stream stream);   /* SUCCESS or NOT_READY */
CUDASIM_API int cudasim_event_create(cudasim_ctx ctx, cudasim_event* outEvent);
CUDASIM_API int cudasim_event_destroy(cudasim_ctx ctx, cudasim_event event);
CUDASIM_API int cudasim_event_record(cudasim_ctx ctx, cudasim_event event, cudasim_stream stream);
/* Later work on `stream` waits for `event` (already satisfied here: recorded work has completed). */
CUDASIM_API int cudasim_stream_wait_event(cudasim_ctx ctx, cudasim_stream stream, cudasim_event event);
CUDASIM_API int cudasim_event_synchronize(cudasim_ctx ctx, cudasim_event event);
CUDASIM_API int cudasim_event_query(cudasim_ctx ctx, cudasim_event event);      /* SUCCESS or NOT_READY */
/* Milliseconds between two recorded events (host wall clock of the simulated work); NOT_READY if either
 * was never recorded, like cuEventElapsedTime. */
CUDASIM_API int cudasim_event_elapsed_time(cudasim_ctx ctx, float* outMs, cudasim_event start, cudasim_event end);

/* ---- modules and kernels ------------------------------------------------------------------------ */
/* moduleName: the .cu file name the kernels were compiled from ("RmsNorm.cu"), or "*" for all.
 * NOT_FOUND when no kernel was registered from that file. */
CUDASIM_API int cudasim_module_load(cudasim_ctx ctx, const char* moduleName, cudasim_module* outModule);
CUDASIM_API int cudasim_module_unload(cudasim_ctx ctx, cudasim_module module);
CUDASIM_API int cudasim_module_get_function(cudasim_ctx ctx, cudasim_module module, const char* kernelName,
                                            cudasim_function* outFunction);
/* Parameter layout of a kernel, for argument validation on the managed side. */
CUDASIM_API int cudasim_func_get_param_count(cudasim_ctx ctx, cudasim_function function, int* outCount);
CUDASIM_API int cudasim_func_get_param_size(cudasim_ctx ctx, cudasim_function function, int index,
                                            size_t* outBytes);
CUDASIM_API int cudasim_func_get_attribute(cudasim_ctx ctx, cudasim_function function, int attribute,
                                           int* outValue);
CUDASIM_API int cudasim_func_set_attribute(cudasim_ctx ctx, cudasim_function function, int attribute,
                                           int value);
/* kernelParams[i] points at the value of parameter i (exactly cuLaunchKernel's kernelParams).
 * Limits as on sm_90: block ≤ 1024 threads (x,y ≤ 1024, z ≤ 64) and ≤ the kernel's __launch_bounds__,
 * grid x < 2^31, y,z ≤ 65535, sharedBytes ≤ the function's MAX_DYNAMIC_SHARED_SIZE_BYTES. */
CUDASIM_API int cudasim_launch_kernel(cudasim_ctx ctx, cudasim_function function,
                                      unsigned gridX, unsigned gridY, unsigned gridZ,
                                      unsigned blockX, unsigned blockY, unsigned blockZ,
                                      unsigned sharedBytes, cudasim_stream stream, void** kernelParams);

/* ---- graphs ------------------------------------------------------------------------------------- */
CUDASIM_API int cudasim_stream_begin_capture(cudasim_ctx ctx, cudasim_stream stream);
/* Ends capture and returns the recorded graph (nodes in stream order). */
CUDASIM_API int cudasim_stream_end_capture(cudasim_ctx ctx, cudasim_stream stream, cudasim_graph* outGraph);
CUDASIM_API int cudasim_stream_is_capturing(cudasim_ctx ctx, cudasim_stream stream, int* outCapturing);
CUDASIM_API int cudasim_graph_get_node_count(cudasim_ctx ctx, cudasim_graph graph, size_t* outCount);
CUDASIM_API int cudasim_graph_destroy(cudasim_ctx ctx, cudasim_graph graph);
/* The executable graph is an independent copy: destroying the graph afterwards is allowed. */
CUDASIM_API int cudasim_graph_instantiate(cudasim_ctx ctx, cudasim_graph graph, cudasim_graph_exec* outExec);
CUDASIM_API int cudasim_graph_exec_destroy(cudasim_ctx ctx, cudasim_graph_exec exec);
CUDASIM_API int cudasim_graph_launch(cudasim_ctx ctx, cudasim_graph_exec exec, cudasim_stream stream);

#ifdef __cplusplus
}
#endif

#endif /* SPECEE_CUDASIM_API_H */
