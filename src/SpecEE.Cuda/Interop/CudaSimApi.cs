using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace SpecEE.Cuda.Interop;

/// <summary>`cudasim_ctx`: one simulated device.</summary>
public readonly record struct CudaSimContext(nint Handle);

/// <summary>`cudasim_graph`: a captured, not yet instantiated graph.</summary>
public readonly record struct CudaSimGraph(nint Handle);

/// <summary>
/// The C API of native/cudasim (cudasim_api.h, CUDASIM_API_VERSION 1). It mirrors the driver API, so the
/// simulator's stream/event/module/function/graph-exec handles travel in the same typed structs as the
/// driver's (CUstream, CUevent, ...); device addresses are host addresses in a <see cref="CUdeviceptr"/>.
/// Error codes equal the CUresult of the same name.
/// </summary>
internal static unsafe partial class CudaSimApi
{
    public const int ExpectedApiVersion = 1;

    [LibraryImport(NativeLibraries.CudaSim)] internal static partial int cudasim_api_version();
    [LibraryImport(NativeLibraries.CudaSim)] internal static partial byte* cudasim_error_name(int error);
    [LibraryImport(NativeLibraries.CudaSim)] internal static partial byte* cudasim_error_string(int error);
    [LibraryImport(NativeLibraries.CudaSim)] internal static partial byte* cudasim_last_error_message();

    // ---- context
    [LibraryImport(NativeLibraries.CudaSim)] internal static partial CUresult cudasim_ctx_create(int workerCount, out CudaSimContext ctx);
    [LibraryImport(NativeLibraries.CudaSim)] internal static partial CUresult cudasim_ctx_destroy(CudaSimContext ctx);
    [LibraryImport(NativeLibraries.CudaSim)] internal static partial CUresult cudasim_ctx_synchronize(CudaSimContext ctx);
    [LibraryImport(NativeLibraries.CudaSim)] internal static partial CUresult cudasim_device_get_attribute(CudaSimContext ctx, CUdevice_attribute attribute, out int value);

    // ---- memory
    [LibraryImport(NativeLibraries.CudaSim)] internal static partial CUresult cudasim_mem_alloc(CudaSimContext ctx, out CUdeviceptr ptr, nuint bytes);
    [LibraryImport(NativeLibraries.CudaSim)] internal static partial CUresult cudasim_mem_free(CudaSimContext ctx, CUdeviceptr ptr);
    [LibraryImport(NativeLibraries.CudaSim)] internal static partial CUresult cudasim_mem_alloc_host(CudaSimContext ctx, out nint ptr, nuint bytes);
    [LibraryImport(NativeLibraries.CudaSim)] internal static partial CUresult cudasim_mem_free_host(CudaSimContext ctx, nint ptr);
    [LibraryImport(NativeLibraries.CudaSim)] internal static partial CUresult cudasim_memcpy_htod(CudaSimContext ctx, CUdeviceptr dst, void* src, nuint bytes, CUstream stream);
    [LibraryImport(NativeLibraries.CudaSim)] internal static partial CUresult cudasim_memcpy_dtoh(CudaSimContext ctx, void* dst, CUdeviceptr src, nuint bytes, CUstream stream);
    [LibraryImport(NativeLibraries.CudaSim)] internal static partial CUresult cudasim_memcpy_dtod(CudaSimContext ctx, CUdeviceptr dst, CUdeviceptr src, nuint bytes, CUstream stream);
    [LibraryImport(NativeLibraries.CudaSim)] internal static partial CUresult cudasim_memset_d8(CudaSimContext ctx, CUdeviceptr dst, byte value, nuint count, CUstream stream);
    [LibraryImport(NativeLibraries.CudaSim)] internal static partial CUresult cudasim_memset_d32(CudaSimContext ctx, CUdeviceptr dst, uint value, nuint count, CUstream stream);

    // ---- streams and events
    [LibraryImport(NativeLibraries.CudaSim)] internal static partial CUresult cudasim_stream_create(CudaSimContext ctx, out CUstream stream);
    [LibraryImport(NativeLibraries.CudaSim)] internal static partial CUresult cudasim_stream_destroy(CudaSimContext ctx, CUstream stream);
    [LibraryImport(NativeLibraries.CudaSim)] internal static partial CUresult cudasim_stream_synchronize(CudaSimContext ctx, CUstream stream);
    [LibraryImport(NativeLibraries.CudaSim)] internal static partial CUresult cudasim_event_create(CudaSimContext ctx, out CUevent ev);
    [LibraryImport(NativeLibraries.CudaSim)] internal static partial CUresult cudasim_event_destroy(CudaSimContext ctx, CUevent ev);
    [LibraryImport(NativeLibraries.CudaSim)] internal static partial CUresult cudasim_event_record(CudaSimContext ctx, CUevent ev, CUstream stream);
    [LibraryImport(NativeLibraries.CudaSim)] internal static partial CUresult cudasim_event_synchronize(CudaSimContext ctx, CUevent ev);
    [LibraryImport(NativeLibraries.CudaSim)] internal static partial CUresult cudasim_event_elapsed_time(CudaSimContext ctx, out float ms, CUevent start, CUevent end);

    // ---- modules and kernels
    [LibraryImport(NativeLibraries.CudaSim, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial CUresult cudasim_module_load(CudaSimContext ctx, string moduleName, out CUmodule module);
    [LibraryImport(NativeLibraries.CudaSim)] internal static partial CUresult cudasim_module_unload(CudaSimContext ctx, CUmodule module);
    [LibraryImport(NativeLibraries.CudaSim, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial CUresult cudasim_module_get_function(CudaSimContext ctx, CUmodule module, string kernelName, out CUfunction function);
    [LibraryImport(NativeLibraries.CudaSim)] internal static partial CUresult cudasim_func_get_param_count(CudaSimContext ctx, CUfunction function, out int count);
    [LibraryImport(NativeLibraries.CudaSim)] internal static partial CUresult cudasim_func_set_attribute(CudaSimContext ctx, CUfunction function, CUfunction_attribute attribute, int value);
    [LibraryImport(NativeLibraries.CudaSim)]
    internal static partial CUresult cudasim_launch_kernel(CudaSimContext ctx, CUfunction function,
        uint gridX, uint gridY, uint gridZ, uint blockX, uint blockY, uint blockZ,
        uint sharedBytes, CUstream stream, void** kernelParams);

    // ---- graphs
    [LibraryImport(NativeLibraries.CudaSim)] internal static partial CUresult cudasim_stream_begin_capture(CudaSimContext ctx, CUstream stream);
    [LibraryImport(NativeLibraries.CudaSim)] internal static partial CUresult cudasim_stream_end_capture(CudaSimContext ctx, CUstream stream, out CudaSimGraph graph);
    [LibraryImport(NativeLibraries.CudaSim)] internal static partial CUresult cudasim_graph_destroy(CudaSimContext ctx, CudaSimGraph graph);
    [LibraryImport(NativeLibraries.CudaSim)] internal static partial CUresult cudasim_graph_instantiate(CudaSimContext ctx, CudaSimGraph graph, out CUgraphExec exec);
    [LibraryImport(NativeLibraries.CudaSim)] internal static partial CUresult cudasim_graph_exec_destroy(CudaSimContext ctx, CUgraphExec exec);
    [LibraryImport(NativeLibraries.CudaSim)] internal static partial CUresult cudasim_graph_launch(CudaSimContext ctx, CUgraphExec exec, CUstream stream);

    /// <summary>Throws <see cref="CudaException"/> with the simulator's error name and its detail of the failure.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Check(CUresult result, [CallerArgumentExpression(nameof(result))] string call = "")
    {
        if (result != CUresult.CUDA_SUCCESS) throw Failure(result, call);
    }

    internal static CudaException Failure(CUresult result, string call)
    {
        string name = Marshal.PtrToStringUTF8((nint)cudasim_error_name((int)result)) ?? $"CUresult {(int)result}";
        // The per-thread detail (which argument, which kernel, which block deadlocked) beats the generic text.
        string? detail = Marshal.PtrToStringUTF8((nint)cudasim_last_error_message());
        if (string.IsNullOrWhiteSpace(detail)) detail = Marshal.PtrToStringUTF8((nint)cudasim_error_string((int)result));
        return new CudaException((int)result, name, detail, CudaException.OneLine(call), null);
    }
}
