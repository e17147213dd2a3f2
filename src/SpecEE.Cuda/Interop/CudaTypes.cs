using System.Runtime.CompilerServices;

// Every struct below crosses the P/Invoke boundary as-is; the generator must never marshal them.
[assembly: DisableRuntimeMarshalling]

namespace SpecEE.Cuda.Interop;

// Typed handles with the native sizes of cuda.h / nvrtc.h. All are blittable single-field structs,
// so `out CUstream` passes a pointer to 8 bytes exactly like `CUstream*` in C.

/// <summary>A device ordinal as the driver hands it out (`CUdevice` is `int` in cuda.h).</summary>
public readonly record struct CUdevice(int Ordinal);

/// <summary>`CUcontext`: opaque pointer.</summary>
public readonly record struct CUcontext(nint Handle);

/// <summary>`CUmodule`: opaque pointer.</summary>
public readonly record struct CUmodule(nint Handle);

/// <summary>`CUfunction`: opaque pointer, valid while its module is loaded.</summary>
public readonly record struct CUfunction(nint Handle);

/// <summary>`CUstream`: opaque pointer; 0 is the legacy default stream.</summary>
public readonly record struct CUstream(nint Handle);

/// <summary>`CUevent`: opaque pointer.</summary>
public readonly record struct CUevent(nint Handle);

/// <summary>`CUgraph`: opaque pointer to a captured (not yet instantiated) graph.</summary>
public readonly record struct CUgraph(nint Handle);

/// <summary>`CUgraphExec`: opaque pointer to an instantiated, launchable graph.</summary>
public readonly record struct CUgraphExec(nint Handle);

/// <summary>`nvrtcProgram`: opaque pointer.</summary>
public readonly record struct NvrtcProgram(nint Handle);

/// <summary>
/// A device address (`CUdeviceptr` is `unsigned long long` on 64-bit hosts). Kernel launchers pass
/// <see cref="Value"/> as the argument of a `T*` kernel parameter.
/// </summary>
public readonly record struct CUdeviceptr(ulong Value)
{
    /// <summary>The null device pointer.</summary>
    public static CUdeviceptr Null => default;

    /// <summary>The address <paramref name="bytes"/> past this one.</summary>
    public static CUdeviceptr operator +(CUdeviceptr p, long bytes) => new(p.Value + (ulong)bytes);

    public override string ToString() => "0x" + Value.ToString("x");
}

/// <summary>`CUresult`. Members carry the native names so that <c>ToString()</c> prints what cuda.h calls them.</summary>
internal enum CUresult
{
    CUDA_SUCCESS = 0,
    CUDA_ERROR_INVALID_VALUE = 1,
    CUDA_ERROR_OUT_OF_MEMORY = 2,
    CUDA_ERROR_NOT_INITIALIZED = 3,
    CUDA_ERROR_DEINITIALIZED = 4,
    CUDA_ERROR_STUB_LIBRARY = 34,
    CUDA_ERROR_DEVICE_UNAVAILABLE = 46,
    CUDA_ERROR_NO_DEVICE = 100,
    CUDA_ERROR_INVALID_DEVICE = 101,
    CUDA_ERROR_INVALID_IMAGE = 200,
    CUDA_ERROR_INVALID_CONTEXT = 201,
    CUDA_ERROR_NO_BINARY_FOR_GPU = 209,
    CUDA_ERROR_INVALID_PTX = 218,
    CUDA_ERROR_JIT_COMPILER_NOT_FOUND = 221,
    CUDA_ERROR_UNSUPPORTED_PTX_VERSION = 222,
    CUDA_ERROR_INVALID_HANDLE = 400,
    CUDA_ERROR_NOT_FOUND = 500,
    CUDA_ERROR_NOT_READY = 600,
    CUDA_ERROR_ILLEGAL_ADDRESS = 700,
    CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES = 701,
    CUDA_ERROR_LAUNCH_FAILED = 719,
    CUDA_ERROR_STREAM_CAPTURE_INVALIDATED = 901,
    CUDA_ERROR_UNKNOWN = 999,
}

/// <summary>`nvrtcResult`, native names.</summary>
internal enum NvrtcResult
{
    NVRTC_SUCCESS = 0,
    NVRTC_ERROR_OUT_OF_MEMORY = 1,
    NVRTC_ERROR_PROGRAM_CREATION_FAILURE = 2,
    NVRTC_ERROR_INVALID_INPUT = 3,
    NVRTC_ERROR_INVALID_PROGRAM = 4,
    NVRTC_ERROR_INVALID_OPTION = 5,
    NVRTC_ERROR_COMPILATION = 6,
    NVRTC_ERROR_BUILTIN_OPERATION_FAILURE = 7,
    NVRTC_ERROR_NO_NAME_EXPRESSIONS_AFTER_COMPILATION = 8,
    NVRTC_ERROR_NO_LOWERED_NAMES_BEFORE_COMPILATION = 9,
    NVRTC_ERROR_NAME_EXPRESSION_NOT_VALID = 10,
    NVRTC_ERROR_INTERNAL_ERROR = 11,
}

/// <summary>The subset of `CUdevice_attribute` we query.</summary>
internal enum CUdevice_attribute
{
    CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK = 1,
    CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK = 8,
    CU_DEVICE_ATTRIBUTE_WARP_SIZE = 10,
    CU_DEVICE_ATTRIBUTE_CLOCK_RATE = 13,
    CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT = 16,
    CU_DEVICE_ATTRIBUTE_MEMORY_CLOCK_RATE = 36,
    CU_DEVICE_ATTRIBUTE_GLOBAL_MEMORY_BUS_WIDTH = 37,
    CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE = 38,
    CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75,
    CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR = 76,
    CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN = 97,
}

/// <summary>The subset of `CUfunction_attribute` we set.</summary>
internal enum CUfunction_attribute
{
    CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES = 8,
}

/// <summary>`CUjit_option`: keys of the option arrays of cuModuleLoadDataEx.</summary>
internal enum CUjit_option
{
    CU_JIT_WALL_TIME = 2,
    CU_JIT_INFO_LOG_BUFFER = 3,
    CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES = 4,
    CU_JIT_ERROR_LOG_BUFFER = 5,
    CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES = 6,
    CU_JIT_LOG_VERBOSE = 12,
}

/// <summary>`CUstreamCaptureMode`.</summary>
internal enum CUstreamCaptureMode
{
    CU_STREAM_CAPTURE_MODE_GLOBAL = 0,
    CU_STREAM_CAPTURE_MODE_THREAD_LOCAL = 1,
    CU_STREAM_CAPTURE_MODE_RELAXED = 2,
}

/// <summary>Flag values from cuda.h used with cuStreamCreate / cuEventCreate.</summary>
internal static class CuFlags
{
    public const uint CU_STREAM_DEFAULT = 0x0;
    public const uint CU_STREAM_NON_BLOCKING = 0x1;
    public const uint CU_EVENT_DEFAULT = 0x0;
    public const uint CU_EVENT_BLOCKING_SYNC = 0x1;
    public const uint CU_EVENT_DISABLE_TIMING = 0x2;
}
