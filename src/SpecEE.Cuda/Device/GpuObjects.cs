using System.Runtime.InteropServices;
using SpecEE.Cuda.Interop;

namespace SpecEE.Cuda.Device;

/// <summary>Grid or block extent, as in CUDA's dim3.</summary>
public readonly record struct Dim3(uint X, uint Y = 1, uint Z = 1)
{
    public static implicit operator Dim3(uint x) => new(x);
    public static implicit operator Dim3(int x) => new(checked((uint)x));
}

/// <summary>What a kernel launcher needs to know about the device it targets.</summary>
/// <param name="Name">Marketing name, e.g. "NVIDIA H200".</param>
/// <param name="ComputeMajor">Compute capability major (9 for Hopper).</param>
/// <param name="ComputeMinor">Compute capability minor.</param>
/// <param name="MultiprocessorCount">SM count (sizes grids to whole waves).</param>
/// <param name="TotalMemoryBytes">Device memory; 0 for the simulator (host memory, no fixed capacity).</param>
/// <param name="MaxSharedBytesPerBlockOptIn">Dynamic shared memory a block may opt in to.</param>
/// <param name="DriverVersion">cuDriverGetVersion, e.g. 12040 for CUDA 12.4; 0 for the simulator.</param>
public sealed record GpuDeviceInfo(string Name, int ComputeMajor, int ComputeMinor, int MultiprocessorCount,
    long TotalMemoryBytes, int MaxSharedBytesPerBlockOptIn, int DriverVersion)
{
    /// <summary>Compute capability as NVRTC spells the number in sm_XX: 90 for 9.0.</summary>
    public int Arch => ComputeMajor * 10 + ComputeMinor;
}

/// <summary>
/// Base of the objects a device hands out. Each wraps the device-specific SafeHandle that owns the native
/// object; <see cref="Dispose"/> releases it at once, the SafeHandle's own finalisation covers a missed Dispose.
/// </summary>
public abstract class GpuObject : IDisposable
{
    private protected GpuObject(SafeHandle owner) => Owner = owner;

    private protected SafeHandle Owner { get; }

    /// <summary>True once disposed.</summary>
    public bool IsDisposed => Owner.IsClosed;

    private protected void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(Owner.IsClosed, this);

    public void Dispose()
    {
        Owner.Dispose();
        GC.SuppressFinalize(this);
    }
}

/// <summary>A device allocation: <see cref="Bytes"/> bytes starting at <see cref="Ptr"/>.</summary>
public sealed class GpuBuffer : GpuObject
{
    private readonly CUdeviceptr _ptr;

    internal GpuBuffer(CUdeviceptr ptr, long bytes, SafeHandle owner) : base(owner)
    {
        _ptr = ptr;
        Bytes = bytes;
    }

    /// <summary>Size in bytes.</summary>
    public long Bytes { get; }

    /// <summary>Start address; throws once disposed so a freed address never reaches a kernel.</summary>
    public CUdeviceptr Ptr
    {
        get { ThrowIfDisposed(); return _ptr; }
    }

    /// <summary>The address <paramref name="byteOffset"/> into the buffer, with room for <paramref name="length"/> bytes.</summary>
    public CUdeviceptr At(long byteOffset, long length = 0)
    {
        if (byteOffset < 0 || length < 0 || byteOffset + length > Bytes)
            throw new ArgumentOutOfRangeException(nameof(byteOffset), $"[{byteOffset}, +{length}) is outside a buffer of {Bytes} bytes");
        return Ptr + byteOffset;
    }
}

/// <summary>Page-locked host memory: the only kind the device copies from/to asynchronously.</summary>
public sealed class PinnedBuffer : GpuObject
{
    private readonly nint _pointer;

    internal PinnedBuffer(nint pointer, long bytes, SafeHandle owner) : base(owner)
    {
        _pointer = pointer;
        Bytes = bytes;
    }

    public long Bytes { get; }

    /// <summary>Host address of the first byte.</summary>
    public nint Pointer
    {
        get { ThrowIfDisposed(); return _pointer; }
    }

    /// <summary>The buffer as elements of <typeparamref name="T"/> (whole elements only).</summary>
    public unsafe Span<T> AsSpan<T>() where T : unmanaged => new((void*)Pointer, checked((int)(Bytes / sizeof(T))));
}

/// <summary>An ordered queue of device work.</summary>
public sealed class GpuStream : GpuObject
{
    private readonly CUstream _handle;
    internal GpuStream(CUstream handle, SafeHandle owner) : base(owner) => _handle = handle;
    internal CUstream Handle { get { ThrowIfDisposed(); return _handle; } }
}

/// <summary>A marker in a stream, for waiting and timing.</summary>
public sealed class GpuEvent : GpuObject
{
    private readonly CUevent _handle;
    internal GpuEvent(CUevent handle, SafeHandle owner) : base(owner) => _handle = handle;
    internal CUevent Handle { get { ThrowIfDisposed(); return _handle; } }
}

/// <summary>Loaded device code; its functions are valid while it is not disposed.</summary>
public sealed class GpuModule : GpuObject
{
    private readonly CUmodule _handle;

    internal GpuModule(CUmodule handle, SafeHandle owner, string name) : base(owner)
    {
        _handle = handle;
        Name = name;
    }

    /// <summary>The name given at load (source file name or "ptx").</summary>
    public string Name { get; }

    internal CUmodule Handle { get { ThrowIfDisposed(); return _handle; } }
}

/// <summary>A kernel entry point of a <see cref="GpuModule"/>; owns nothing.</summary>
public sealed class GpuFunction
{
    private readonly CUfunction _handle;

    internal GpuFunction(CUfunction handle, GpuModule module, string name)
    {
        _handle = handle;
        Module = module;
        Name = name;
    }

    public GpuModule Module { get; }

    /// <summary>The kernel's extern "C" name.</summary>
    public string Name { get; }

    internal CUfunction Handle
    {
        get
        {
            ObjectDisposedException.ThrowIf(Module.IsDisposed, Module);
            return _handle;
        }
    }

    public override string ToString() => Name;
}

/// <summary>An instantiated graph captured from a stream; replaying it re-issues the captured work.</summary>
public sealed class GpuGraph : GpuObject
{
    private readonly CUgraphExec _handle;
    internal GpuGraph(CUgraphExec handle, SafeHandle owner) : base(owner) => _handle = handle;
    internal CUgraphExec Handle { get { ThrowIfDisposed(); return _handle; } }
}
