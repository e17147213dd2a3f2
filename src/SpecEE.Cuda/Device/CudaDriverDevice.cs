using System.Runtime.InteropServices;
using System.Text;
using SpecEE.Core;
using SpecEE.Cuda.Interop;
using SpecEE.Cuda.Nvrtc;
using static SpecEE.Cuda.Interop.CuDriver;

namespace SpecEE.Cuda.Device;

/// <summary>
/// A real GPU through the CUDA driver API, in the device's primary context (the one the CUDA runtime and
/// other libraries share). Each call makes that context current on the calling thread first, so the
/// object may be used from any thread (one at a time per stream, as CUDA requires).
/// </summary>
public sealed unsafe class CudaDriverDevice : IGpuDevice
{
    private const int JitLogBytes = 16 * 1024;

    private readonly PrimaryContextHandle _context;
    private volatile bool _disposed;
    private readonly KernelCache? _kernelCache;
    private NvrtcCompiler? _compiler;

    private CudaDriverDevice(PrimaryContextHandle context, GpuDeviceInfo info, KernelCache? kernelCache)
    {
        _context = context;
        Info = info;
        _kernelCache = kernelCache;
    }

    public GpuDeviceInfo Info { get; }

    /// <summary>
    /// Opens GPU <paramref name="ordinal"/>. Without a driver, or with no usable device, throws
    /// <see cref="SpecEEException"/> "no CUDA device: &lt;reason&gt;" and nothing else.
    /// <paramref name="kernelCache"/> defaults to <see cref="KernelCache.CreateDefault"/>.
    /// </summary>
    public static CudaDriverDevice Open(int ordinal = 0, KernelCache? kernelCache = null)
    {
        if (!NativeLibraries.TryLoadDriver(out string reason)) throw NoDevice(reason);
        CUresult init;
        try { init = cuInit(0); }
        catch (EntryPointNotFoundException e) { throw NoDevice("the CUDA driver library is unusable: " + e.Message); }
        if (init != CUresult.CUDA_SUCCESS) throw NoDevice($"cuInit failed with {ErrorName(init)}");
        Check(cuDeviceGetCount(out int count));
        if (count == 0) throw NoDevice("the driver reports 0 devices");
        if (ordinal < 0 || ordinal >= count) throw NoDevice($"device {ordinal} requested, the driver reports {count}");

        Check(cuDeviceGet(out CUdevice device, ordinal));
        Check(cuDevicePrimaryCtxRetain(out CUcontext ctx, device));
        var context = new PrimaryContextHandle(device, ctx);
        try
        {
            Check(cuCtxSetCurrent(ctx));
            return new CudaDriverDevice(context, QueryInfo(device), kernelCache ?? KernelCache.CreateDefault());
        }
        catch
        {
            context.Dispose();
            throw;
        }
    }

    private static SpecEEException NoDevice(string reason) => new("no CUDA device: " + reason);

    private static GpuDeviceInfo QueryInfo(CUdevice device)
    {
        byte* name = stackalloc byte[256];
        Check(cuDeviceGetName(name, 256, device));
        Check(cuDeviceTotalMem_v2(out nuint totalBytes, device));
        Check(cuDriverGetVersion(out int driverVersion));
        int Attribute(CUdevice_attribute a)
        {
            Check(cuDeviceGetAttribute(out int value, a, device));
            return value;
        }
        return new GpuDeviceInfo(
            Marshal.PtrToStringUTF8((nint)name) ?? "",
            Attribute(CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR),
            Attribute(CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR),
            Attribute(CUdevice_attribute.CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT),
            (long)totalBytes,
            Attribute(CUdevice_attribute.CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN),
            driverVersion);
    }

    /// <summary>Makes our context current on this thread (a TLS write in the driver, cheap next to any launch).</summary>
    private void Bind()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        Check(cuCtxSetCurrent(_context.Context));
    }

    // ---- memory ------------------------------------------------------------------------------

    public GpuBuffer Allocate(long bytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(bytes);
        Bind();
        Check(cuMemAlloc_v2(out CUdeviceptr ptr, (nuint)bytes));
        return new GpuBuffer(ptr, bytes, new DeviceMemoryHandle(_context, ptr));
    }

    public PinnedBuffer AllocatePinned(long bytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(bytes);
        Bind();
        Check(cuMemAllocHost_v2(out nint host, (nuint)bytes));
        return new PinnedBuffer(host, bytes, new PinnedHostHandle(_context, host));
    }

    public void CopyToDevice<T>(CUdeviceptr destination, ReadOnlySpan<T> source) where T : unmanaged
    {
        if (source.IsEmpty) return;
        Bind();
        fixed (T* p = source) Check(cuMemcpyHtoD_v2(destination, p, (nuint)((long)source.Length * sizeof(T))));
    }

    public void CopyToHost<T>(Span<T> destination, CUdeviceptr source) where T : unmanaged
    {
        if (destination.IsEmpty) return;
        Bind();
        fixed (T* p = destination) Check(cuMemcpyDtoH_v2(p, source, (nuint)((long)destination.Length * sizeof(T))));
    }

    public void CopyToDeviceAsync(CUdeviceptr destination, PinnedBuffer source, long sourceOffset, long bytes, GpuStream stream)
    {
        CheckRange(source, sourceOffset, bytes);
        Bind();
        Check(cuMemcpyHtoDAsync_v2(destination, (void*)(source.Pointer + (nint)sourceOffset), (nuint)bytes, stream.Handle));
    }

    public void CopyToHostAsync(PinnedBuffer destination, long destinationOffset, CUdeviceptr source, long bytes, GpuStream stream)
    {
        CheckRange(destination, destinationOffset, bytes);
        Bind();
        Check(cuMemcpyDtoHAsync_v2((void*)(destination.Pointer + (nint)destinationOffset), source, (nuint)bytes, stream.Handle));
    }

    public void CopyDeviceToDeviceAsync(CUdeviceptr destination, CUdeviceptr source, long bytes, GpuStream stream)
    {
        Bind();
        Check(cuMemcpyDtoDAsync_v2(destination, source, (nuint)bytes, stream.Handle));
    }

    private static void CheckRange(PinnedBuffer buffer, long offset, long bytes)
    {
        if (offset < 0 || bytes < 0 || offset + bytes > buffer.Bytes)
            throw new ArgumentOutOfRangeException(nameof(offset), $"[{offset}, +{bytes}) is outside a pinned buffer of {buffer.Bytes} bytes");
    }

    public void Memset8(CUdeviceptr destination, byte value, long count)
    {
        Bind();
        Check(cuMemsetD8_v2(destination, value, (nuint)count));
    }

    public void Memset32Async(CUdeviceptr destination, uint value, long count, GpuStream stream)
    {
        if (destination.Value % 4 != 0) throw new ArgumentException($"Memset32 needs a 4-byte aligned address, got {destination}", nameof(destination));
        Bind();
        Check(cuMemsetD32Async(destination, value, (nuint)count, stream.Handle));
    }

    // ---- code --------------------------------------------------------------------------------

    /// <summary>
    /// Compiles to CUBIN for this GPU's sm_XX. When the installed NVRTC is older than the GPU, compiles PTX
    /// for the newest compute_XX it knows below it and lets the driver JIT it.
    /// </summary>
    public GpuModule LoadCudaSource(string source, string name, IReadOnlyList<string>? defines = null)
    {
        _compiler ??= new NvrtcCompiler(_kernelCache);
        int arch = Info.Arch;
        NvrtcOptions options = _compiler.Supports(arch)
            ? new NvrtcOptions(arch, NvrtcTarget.Cubin, Defines: defines)
            : new NvrtcOptions(NewestPtxArchBelow(_compiler, arch, name), NvrtcTarget.Ptx, Defines: defines);
        CompiledKernel compiled = _compiler.Compile(source, name, options);
        return LoadImage(compiled.Image.Span, name);
    }

    private static int NewestPtxArchBelow(NvrtcCompiler compiler, int arch, string name)
    {
        int best = compiler.SupportedArchs.Where(a => a <= arch).DefaultIfEmpty(0).Max();
        if (best == 0)
            throw new SpecEEException($"{name}: NVRTC {compiler.Version} supports no architecture at or below sm_{arch}");
        return best;
    }

    public GpuModule LoadPtx(string ptx, string name = "ptx")
    {
        byte[] image = new byte[Encoding.UTF8.GetByteCount(ptx) + 1]; // the JIT wants NUL-terminated text
        Encoding.UTF8.GetBytes(ptx, image);
        return LoadImage(image, name);
    }

    private GpuModule LoadImage(ReadOnlySpan<byte> image, string name)
    {
        Bind();
        byte[] infoLog = new byte[JitLogBytes], errorLog = new byte[JitLogBytes];
        CUjit_option* keys = stackalloc CUjit_option[]
        {
            CUjit_option.CU_JIT_INFO_LOG_BUFFER, CUjit_option.CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES,
            CUjit_option.CU_JIT_ERROR_LOG_BUFFER, CUjit_option.CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES,
        };
        fixed (byte* img = image)
        fixed (byte* info = infoLog)
        fixed (byte* error = errorLog)
        {
            // Size options are passed by value in the pointer slot, and come back as bytes written.
            void** values = stackalloc void*[] { info, (void*)JitLogBytes, error, (void*)JitLogBytes };
            CUresult result = cuModuleLoadDataEx(out CUmodule module, img, 4, keys, values);
            if (result != CUresult.CUDA_SUCCESS)
            {
                string log = Encoding.UTF8.GetString(errorLog.AsSpan(0, (int)Math.Min((nuint)values[3], JitLogBytes)).TrimEnd((byte)0));
                throw Failure(result, $"cuModuleLoadDataEx({name})", log);
            }
            return new GpuModule(module, new CudaModuleHandle(_context, module), name);
        }
    }

    public GpuFunction GetFunction(GpuModule module, string name)
    {
        Bind();
        CUresult result = cuModuleGetFunction(out CUfunction function, module.Handle, name);
        if (result != CUresult.CUDA_SUCCESS) throw Failure(result, $"cuModuleGetFunction({module.Name}, \"{name}\")", null);
        return new GpuFunction(function, module, name);
    }

    public void SetMaxDynamicSharedBytes(GpuFunction function, int bytes)
    {
        Bind();
        Check(cuFuncSetAttribute(function.Handle, CUfunction_attribute.CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, bytes));
    }

    public void Launch(GpuFunction function, Dim3 grid, Dim3 block, int sharedBytes, GpuStream stream, ReadOnlySpan<nint> args)
    {
        Bind();
        CUresult result;
        fixed (nint* argv = args)
            result = cuLaunchKernel(function.Handle, grid.X, grid.Y, grid.Z, block.X, block.Y, block.Z,
                checked((uint)sharedBytes), stream.Handle, (void**)argv, null);
        if (result != CUresult.CUDA_SUCCESS)
            throw Failure(result, $"cuLaunchKernel({function.Name}, grid {grid}, block {block}, shared {sharedBytes} B)", null);
    }

    // ---- streams, events, graphs -------------------------------------------------------------

    public GpuStream CreateStream()
    {
        Bind();
        // A blocking stream (CU_STREAM_DEFAULT): it is ordered with the legacy default stream, on which the
        // synchronous copies and memsets run (cuMemsetD8 and pageable cuMemcpyHtoD may return before the
        // device has finished). The hot path never touches the legacy stream, so this costs nothing there.
        Check(cuStreamCreate(out CUstream stream, CuFlags.CU_STREAM_DEFAULT));
        return new GpuStream(stream, new StreamHandle(_context, stream));
    }

    public void Synchronize(GpuStream stream)
    {
        Bind();
        Check(cuStreamSynchronize(stream.Handle));
    }

    public void Synchronize()
    {
        Bind();
        Check(cuCtxSynchronize());
    }

    public GpuEvent CreateEvent(bool timing = true)
    {
        Bind();
        Check(cuEventCreate(out CUevent ev, timing ? CuFlags.CU_EVENT_DEFAULT : CuFlags.CU_EVENT_DISABLE_TIMING));
        return new GpuEvent(ev, new EventHandle(_context, ev));
    }

    public void Record(GpuEvent ev, GpuStream stream)
    {
        Bind();
        Check(cuEventRecord(ev.Handle, stream.Handle));
    }

    public void Synchronize(GpuEvent ev)
    {
        Bind();
        Check(cuEventSynchronize(ev.Handle));
    }

    public float ElapsedMilliseconds(GpuEvent start, GpuEvent end)
    {
        Bind();
        Check(cuEventElapsedTime(out float ms, start.Handle, end.Handle));
        return ms;
    }

    public void BeginCapture(GpuStream stream)
    {
        Bind();
        // Thread-local: other threads' unrelated driver calls do not invalidate this capture.
        Check(cuStreamBeginCapture_v2(stream.Handle, CUstreamCaptureMode.CU_STREAM_CAPTURE_MODE_THREAD_LOCAL));
    }

    public GpuGraph EndCapture(GpuStream stream)
    {
        Bind();
        Check(cuStreamEndCapture(stream.Handle, out CUgraph graph));
        try
        {
            Check(cuGraphInstantiateWithFlags(out CUgraphExec exec, graph, 0));
            return new GpuGraph(exec, new GraphExecHandle(_context, exec));
        }
        finally
        {
            cuGraphDestroy(graph); // the executable graph is independent of its template
        }
    }

    public void Launch(GpuGraph graph, GpuStream stream)
    {
        Bind();
        Check(cuGraphLaunch(graph.Handle, stream.Handle));
    }

    /// <summary>Drops this object's reference to the context; the driver releases it after the last buffer/stream/module.</summary>
    public void Dispose()
    {
        // The SafeHandle stays open (IsClosed false) while children hold references, so the device keeps its own flag.
        _disposed = true;
        _context.Dispose();
    }

    public override string ToString() => $"{Info.Name} (sm_{Info.Arch}, {Info.MultiprocessorCount} SMs, {Info.TotalMemoryBytes >> 20} MiB)";
}
