using System.Runtime.InteropServices;

namespace SpecEE.Cuda.Interop;

/// <summary>
/// A retained primary context. Every object created in it holds a reference (DangerousAddRef), so the
/// context is released only after its last buffer, stream or module — whatever order Dispose/GC choose.
/// </summary>
internal sealed class PrimaryContextHandle : SafeHandle
{
    public PrimaryContextHandle(CUdevice device, CUcontext context) : base(0, ownsHandle: true)
    {
        Device = device;
        SetHandle(context.Handle);
    }

    public CUdevice Device { get; }
    public CUcontext Context => new(handle);
    public override bool IsInvalid => handle == 0;

    protected override bool ReleaseHandle() =>
        CuDriver.cuDevicePrimaryCtxRelease_v2(Device) == CUresult.CUDA_SUCCESS;
}

/// <summary>
/// Base of driver objects that live in a context. Release may run on any thread (Dispose from a worker,
/// or the finalizer thread), so it pushes the owning context around the destroy call instead of
/// assuming it is current, and leaves the thread's own current context untouched.
/// </summary>
internal abstract class ContextBoundHandle : SafeHandle
{
    private readonly PrimaryContextHandle _context;

    /// <summary>Takes ownership of <paramref name="value"/>, which the driver has just created in <paramref name="context"/>.</summary>
    protected ContextBoundHandle(PrimaryContextHandle context, nint value) : base(0, ownsHandle: true)
    {
        bool added = false;
        context.DangerousAddRef(ref added);
        _context = context;
        SetHandle(value);
    }

    public override bool IsInvalid => handle == 0;

    protected sealed override bool ReleaseHandle()
    {
        bool pushed = CuDriver.cuCtxPushCurrent_v2(_context.Context) == CUresult.CUDA_SUCCESS;
        CUresult result = Destroy(handle);
        if (pushed) CuDriver.cuCtxPopCurrent_v2(out _);
        _context.DangerousRelease();
        return result == CUresult.CUDA_SUCCESS;
    }

    /// <summary>The cu*Destroy / cu*Free call for this kind of object.</summary>
    protected abstract CUresult Destroy(nint value);
}

internal sealed class DeviceMemoryHandle(PrimaryContextHandle ctx, CUdeviceptr ptr) : ContextBoundHandle(ctx, (nint)ptr.Value)
{
    protected override CUresult Destroy(nint value) => CuDriver.cuMemFree_v2(new CUdeviceptr((ulong)value));
}

internal sealed class PinnedHostHandle(PrimaryContextHandle ctx, nint hostPtr) : ContextBoundHandle(ctx, hostPtr)
{
    protected override CUresult Destroy(nint value) => CuDriver.cuMemFreeHost(value);
}

internal sealed class StreamHandle(PrimaryContextHandle ctx, CUstream stream) : ContextBoundHandle(ctx, stream.Handle)
{
    protected override CUresult Destroy(nint value) => CuDriver.cuStreamDestroy_v2(new CUstream(value));
}

internal sealed class EventHandle(PrimaryContextHandle ctx, CUevent ev) : ContextBoundHandle(ctx, ev.Handle)
{
    protected override CUresult Destroy(nint value) => CuDriver.cuEventDestroy_v2(new CUevent(value));
}

internal sealed class CudaModuleHandle(PrimaryContextHandle ctx, CUmodule module) : ContextBoundHandle(ctx, module.Handle)
{
    protected override CUresult Destroy(nint value) => CuDriver.cuModuleUnload(new CUmodule(value));
}

internal sealed class GraphExecHandle(PrimaryContextHandle ctx, CUgraphExec exec) : ContextBoundHandle(ctx, exec.Handle)
{
    protected override CUresult Destroy(nint value) => CuDriver.cuGraphExecDestroy(new CUgraphExec(value));
}

/// <summary>An NVRTC program; not tied to any context.</summary>
internal sealed class NvrtcProgramHandle : SafeHandle
{
    public NvrtcProgramHandle(NvrtcProgram program) : base(0, ownsHandle: true) => SetHandle(program.Handle);

    public NvrtcProgram Program => new(handle);
    public override bool IsInvalid => handle == 0;

    protected override bool ReleaseHandle()
    {
        var program = new NvrtcProgram(handle);
        return NvrtcApi.nvrtcDestroyProgram(ref program) == NvrtcResult.NVRTC_SUCCESS;
    }
}
