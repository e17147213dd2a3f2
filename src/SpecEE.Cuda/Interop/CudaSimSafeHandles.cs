using System.Runtime.InteropServices;

namespace SpecEE.Cuda.Interop;

/// <summary>
/// A cudasim context. cudasim_ctx_destroy frees everything the context owns, so children hold a reference
/// (as with the driver's primary context) and the context is destroyed only after the last of them.
/// </summary>
internal sealed class SimContextHandle : SafeHandle
{
    public SimContextHandle(CudaSimContext ctx) : base(0, ownsHandle: true) => SetHandle(ctx.Handle);

    public CudaSimContext Context => new(handle);
    public override bool IsInvalid => handle == 0;

    protected override bool ReleaseHandle() =>
        CudaSimApi.cudasim_ctx_destroy(new CudaSimContext(handle)) == CUresult.CUDA_SUCCESS;
}

/// <summary>What a <see cref="SimObjectHandle"/> owns, i.e. which cudasim_*_destroy/free releases it.</summary>
internal enum SimObjectKind { DeviceMemory, HostMemory, Stream, Event, Module, GraphExec }

/// <summary>An object created in a cudasim context (any thread may release it: the API is thread-safe).</summary>
internal sealed class SimObjectHandle : SafeHandle
{
    private readonly SimContextHandle _context;
    private readonly SimObjectKind _kind;

    public SimObjectHandle(SimContextHandle context, SimObjectKind kind, nint value) : base(0, ownsHandle: true)
    {
        bool added = false;
        context.DangerousAddRef(ref added);
        _context = context;
        _kind = kind;
        SetHandle(value);
    }

    public override bool IsInvalid => handle == 0;

    protected override bool ReleaseHandle()
    {
        CudaSimContext ctx = _context.Context;
        CUresult result = _kind switch
        {
            SimObjectKind.DeviceMemory => CudaSimApi.cudasim_mem_free(ctx, new CUdeviceptr((ulong)handle)),
            SimObjectKind.HostMemory => CudaSimApi.cudasim_mem_free_host(ctx, handle),
            SimObjectKind.Stream => CudaSimApi.cudasim_stream_destroy(ctx, new CUstream(handle)),
            SimObjectKind.Event => CudaSimApi.cudasim_event_destroy(ctx, new CUevent(handle)),
            SimObjectKind.Module => CudaSimApi.cudasim_module_unload(ctx, new CUmodule(handle)),
            SimObjectKind.GraphExec => CudaSimApi.cudasim_graph_exec_destroy(ctx, new CUgraphExec(handle)),
            _ => CUresult.CUDA_ERROR_INVALID_VALUE,
        };
        _context.DangerousRelease();
        return result == CUresult.CUDA_SUCCESS;
    }
}
