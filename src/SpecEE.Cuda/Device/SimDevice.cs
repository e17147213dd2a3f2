using SpecEE.Core;
using SpecEE.Cuda.Interop;
using static SpecEE.Cuda.Interop.CudaSimApi;

namespace SpecEE.Cuda.Device;

/// <summary>
/// The CPU simulator (native/cudasim) behind the same seam as a GPU. Kernels are the backend's .cu files
/// compiled into libspecee_cudasim.so; loading "source" therefore means finding the module compiled from
/// the file of that name (the source text itself is not used). Execution is synchronous: every enqueued
/// operation has finished when the call returns, one valid schedule of CUDA's stream semantics.
/// </summary>
public sealed unsafe class SimDevice : IGpuDevice
{
    private readonly SimContextHandle _context;
    private volatile bool _disposed;

    private SimDevice(SimContextHandle context, GpuDeviceInfo info)
    {
        _context = context;
        Info = info;
    }

    public GpuDeviceInfo Info { get; }

    /// <summary>True when libspecee_cudasim.so can be loaded; otherwise why not.</summary>
    public static bool IsAvailable(out string reason) => NativeLibraries.TryLoadCudaSim(out reason);

    /// <summary>
    /// A simulated device with <paramref name="workerCount"/> OS threads running blocks (0: all cores, or
    /// $SPECEE_CUDASIM_WORKERS). Throws <see cref="SpecEEException"/> when the library is missing or speaks
    /// another API version.
    /// </summary>
    public static SimDevice Open(int workerCount = 0)
    {
        if (!IsAvailable(out string reason)) throw new SpecEEException("CUDA simulator not available: " + reason);
        int version = cudasim_api_version();
        if (version < ExpectedApiVersion)
            throw new SpecEEException($"CUDA simulator {NativeLibraries.CudaSimLibraryName} has API version {version}, need {ExpectedApiVersion}");
        Check(cudasim_ctx_create(workerCount, out CudaSimContext ctx));
        var context = new SimContextHandle(ctx);
        try
        {
            int Attribute(CUdevice_attribute a)
            {
                Check(cudasim_device_get_attribute(ctx, a, out int value));
                return value;
            }
            var info = new GpuDeviceInfo("cudasim (CPU)",
                Attribute(CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR),
                Attribute(CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR),
                Attribute(CUdevice_attribute.CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT),
                0, // host memory: no fixed device capacity
                Attribute(CUdevice_attribute.CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN),
                0);
            return new SimDevice(context, info);
        }
        catch
        {
            context.Dispose();
            throw;
        }
    }

    private CudaSimContext Ctx
    {
        get
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return _context.Context;
        }
    }

    // ---- memory ------------------------------------------------------------------------------

    public GpuBuffer Allocate(long bytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(bytes);
        Check(cudasim_mem_alloc(Ctx, out CUdeviceptr ptr, (nuint)bytes));
        return new GpuBuffer(ptr, bytes, new SimObjectHandle(_context, SimObjectKind.DeviceMemory, (nint)ptr.Value));
    }

    public PinnedBuffer AllocatePinned(long bytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(bytes);
        Check(cudasim_mem_alloc_host(Ctx, out nint host, (nuint)bytes));
        return new PinnedBuffer(host, bytes, new SimObjectHandle(_context, SimObjectKind.HostMemory, host));
    }

    public void CopyToDevice<T>(CUdeviceptr destination, ReadOnlySpan<T> source) where T : unmanaged
    {
        if (source.IsEmpty) return;
        fixed (T* p = source) Check(cudasim_memcpy_htod(Ctx, destination, p, (nuint)((long)source.Length * sizeof(T)), default));
    }

    public void CopyToHost<T>(Span<T> destination, CUdeviceptr source) where T : unmanaged
    {
        if (destination.IsEmpty) return;
        fixed (T* p = destination) Check(cudasim_memcpy_dtoh(Ctx, p, source, (nuint)((long)destination.Length * sizeof(T)), default));
    }

    public void CopyToDeviceAsync(CUdeviceptr destination, PinnedBuffer source, long sourceOffset, long bytes, GpuStream stream)
    {
        CheckRange(source, sourceOffset, bytes);
        Check(cudasim_memcpy_htod(Ctx, destination, (void*)(source.Pointer + (nint)sourceOffset), (nuint)bytes, stream.Handle));
    }

    public void CopyToHostAsync(PinnedBuffer destination, long destinationOffset, CUdeviceptr source, long bytes, GpuStream stream)
    {
        CheckRange(destination, destinationOffset, bytes);
        Check(cudasim_memcpy_dtoh(Ctx, (void*)(destination.Pointer + (nint)destinationOffset), source, (nuint)bytes, stream.Handle));
    }

    public void CopyDeviceToDeviceAsync(CUdeviceptr destination, CUdeviceptr source, long bytes, GpuStream stream) =>
        Check(cudasim_memcpy_dtod(Ctx, destination, source, (nuint)bytes, stream.Handle));

    private static void CheckRange(PinnedBuffer buffer, long offset, long bytes)
    {
        if (offset < 0 || bytes < 0 || offset + bytes > buffer.Bytes)
            throw new ArgumentOutOfRangeException(nameof(offset), $"[{offset}, +{bytes}) is outside a pinned buffer of {buffer.Bytes} bytes");
    }

    public void Memset8(CUdeviceptr destination, byte value, long count) =>
        Check(cudasim_memset_d8(Ctx, destination, value, (nuint)count, default));

    public void Memset32Async(CUdeviceptr destination, uint value, long count, GpuStream stream)
    {
        if (destination.Value % 4 != 0) throw new ArgumentException($"Memset32 needs a 4-byte aligned address, got {destination}", nameof(destination));
        Check(cudasim_memset_d32(Ctx, destination, value, (nuint)count, stream.Handle));
    }

    // ---- code --------------------------------------------------------------------------------

    /// <summary>
    /// Loads the kernels compiled from the file <paramref name="name"/> ("RmsNorm.cu"). Defines cannot
    /// change code that was compiled ahead of time, so any are rejected rather than silently ignored.
    /// </summary>
    public GpuModule LoadCudaSource(string source, string name, IReadOnlyList<string>? defines = null)
    {
        if (defines is { Count: > 0 })
            throw new InvalidRequestException($"{name}: the simulator runs kernels compiled ahead of time; defines ({string.Join(", ", defines)}) are not supported");
        CUresult result = cudasim_module_load(Ctx, name, out CUmodule module);
        if (result != CUresult.CUDA_SUCCESS) throw Failure(result, $"cudasim_module_load(\"{name}\")");
        return new GpuModule(module, new SimObjectHandle(_context, SimObjectKind.Module, module.Handle), name);
    }

    /// <summary>PTX cannot run on the CPU simulator.</summary>
    public GpuModule LoadPtx(string ptx, string name = "ptx") =>
        throw new InvalidRequestException($"{name}: PTX modules run only on a GPU (the simulator executes kernels compiled from .cu sources)");

    public GpuFunction GetFunction(GpuModule module, string name)
    {
        CUresult result = cudasim_module_get_function(Ctx, module.Handle, name, out CUfunction function);
        if (result != CUresult.CUDA_SUCCESS) throw Failure(result, $"cudasim_module_get_function({module.Name}, \"{name}\")");
        return new GpuFunction(function, module, name);
    }

    public void SetMaxDynamicSharedBytes(GpuFunction function, int bytes) =>
        Check(cudasim_func_set_attribute(Ctx, function.Handle, CUfunction_attribute.CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, bytes));

    public void Launch(GpuFunction function, Dim3 grid, Dim3 block, int sharedBytes, GpuStream stream, ReadOnlySpan<nint> args)
    {
        CUresult result;
        fixed (nint* argv = args)
            result = cudasim_launch_kernel(Ctx, function.Handle, grid.X, grid.Y, grid.Z, block.X, block.Y, block.Z,
                checked((uint)sharedBytes), stream.Handle, (void**)argv);
        if (result != CUresult.CUDA_SUCCESS)
            throw Failure(result, $"cudasim_launch_kernel({function.Name}, grid {grid}, block {block}, shared {sharedBytes} B)");
    }

    // ---- streams, events, graphs -------------------------------------------------------------

    public GpuStream CreateStream()
    {
        Check(cudasim_stream_create(Ctx, out CUstream stream));
        return new GpuStream(stream, new SimObjectHandle(_context, SimObjectKind.Stream, stream.Handle));
    }

    public void Synchronize(GpuStream stream) => Check(cudasim_stream_synchronize(Ctx, stream.Handle));

    public void Synchronize() => Check(cudasim_ctx_synchronize(Ctx));

    public GpuEvent CreateEvent(bool timing = true)
    {
        Check(cudasim_event_create(Ctx, out CUevent ev));
        return new GpuEvent(ev, new SimObjectHandle(_context, SimObjectKind.Event, ev.Handle));
    }

    public void Record(GpuEvent ev, GpuStream stream) => Check(cudasim_event_record(Ctx, ev.Handle, stream.Handle));

    public void Synchronize(GpuEvent ev) => Check(cudasim_event_synchronize(Ctx, ev.Handle));

    public float ElapsedMilliseconds(GpuEvent start, GpuEvent end)
    {
        Check(cudasim_event_elapsed_time(Ctx, out float ms, start.Handle, end.Handle));
        return ms;
    }

    public void BeginCapture(GpuStream stream) => Check(cudasim_stream_begin_capture(Ctx, stream.Handle));

    public GpuGraph EndCapture(GpuStream stream)
    {
        Check(cudasim_stream_end_capture(Ctx, stream.Handle, out CudaSimGraph graph));
        try
        {
            Check(cudasim_graph_instantiate(Ctx, graph, out CUgraphExec exec));
            return new GpuGraph(exec, new SimObjectHandle(_context, SimObjectKind.GraphExec, exec.Handle));
        }
        finally
        {
            cudasim_graph_destroy(Ctx, graph); // the executable graph is an independent copy
        }
    }

    public void Launch(GpuGraph graph, GpuStream stream) => Check(cudasim_graph_launch(Ctx, graph.Handle, stream.Handle));

    /// <summary>Drops this object's reference; the context is destroyed after its last buffer, stream or module.</summary>
    public void Dispose()
    {
        // The SafeHandle stays open (IsClosed false) while children hold references, so the device keeps its own flag.
        _disposed = true;
        _context.Dispose();
    }

    public override string ToString() => $"{Info.Name}, {Info.MultiprocessorCount} workers, {NativeLibraries.CudaSimLibraryName}";
}
