using SpecEE.Cuda.Interop;

namespace SpecEE.Cuda.Device;

/// <summary>
/// Everything the host needs from a GPU: memory, copies, module loading, launches, streams, events and
/// graphs. <see cref="CudaDriverDevice"/> drives a real GPU; the simulator device runs the same kernels
/// on the CPU. Implementations own what they hand out only through those objects' SafeHandles, so
/// disposing the device while buffers live is safe (the context goes when the last object does).
/// Unless a method says otherwise, work is ordered on the stream given and the call returns at once.
/// </summary>
public interface IGpuDevice : IDisposable
{
    /// <summary>Name, compute capability, SM count and memory.</summary>
    GpuDeviceInfo Info { get; }

    // ---- memory ------------------------------------------------------------------------------

    /// <summary>Uninitialised device memory of <paramref name="bytes"/> bytes (256-byte aligned on CUDA).</summary>
    GpuBuffer Allocate(long bytes);

    /// <summary>Page-locked host memory for asynchronous copies.</summary>
    PinnedBuffer AllocatePinned(long bytes);

    /// <summary>Host → device copy of all of <paramref name="source"/>; the span may be reused on return, later work sees the data.</summary>
    void CopyToDevice<T>(CUdeviceptr destination, ReadOnlySpan<T> source) where T : unmanaged;

    /// <summary>Device → host copy filling all of <paramref name="destination"/>, after all work enqueued before it.</summary>
    void CopyToHost<T>(Span<T> destination, CUdeviceptr source) where T : unmanaged;

    /// <summary>Asynchronous host → device copy of <paramref name="bytes"/> bytes from pinned memory.</summary>
    void CopyToDeviceAsync(CUdeviceptr destination, PinnedBuffer source, long sourceOffset, long bytes, GpuStream stream);

    /// <summary>Asynchronous device → host copy of <paramref name="bytes"/> bytes into pinned memory.</summary>
    void CopyToHostAsync(PinnedBuffer destination, long destinationOffset, CUdeviceptr source, long bytes, GpuStream stream);

    /// <summary>Asynchronous device → device copy of <paramref name="bytes"/> bytes (ranges must not overlap).</summary>
    void CopyDeviceToDeviceAsync(CUdeviceptr destination, CUdeviceptr source, long bytes, GpuStream stream);

    /// <summary>Fill of <paramref name="count"/> bytes with <paramref name="value"/>, ordered before any later work on any stream.</summary>
    void Memset8(CUdeviceptr destination, byte value, long count);

    /// <summary>Asynchronous fill of <paramref name="count"/> 32-bit words (4-byte aligned) with <paramref name="value"/>.</summary>
    void Memset32Async(CUdeviceptr destination, uint value, long count, GpuStream stream);

    // ---- code --------------------------------------------------------------------------------

    /// <summary>
    /// Compiles CUDA C++ (which may include "specee_prelude.cuh") for this device and loads it.
    /// <paramref name="name"/> names the source in compiler messages (e.g. "RmsNorm.cu").
    /// </summary>
    GpuModule LoadCudaSource(string source, string name, IReadOnlyList<string>? defines = null);

    /// <summary>Loads PTX text, JIT-compiled by the driver for this device.</summary>
    GpuModule LoadPtx(string ptx, string name = "ptx");

    /// <summary>The extern "C" kernel <paramref name="name"/> of <paramref name="module"/>.</summary>
    GpuFunction GetFunction(GpuModule module, string name);

    /// <summary>Allows a kernel more than 48 KiB of dynamic shared memory (up to Info.MaxSharedBytesPerBlockOptIn).</summary>
    void SetMaxDynamicSharedBytes(GpuFunction function, int bytes);

    /// <summary>
    /// Enqueues <paramref name="function"/> on <paramref name="stream"/>. <paramref name="args"/>[i] is the
    /// address of the value of kernel parameter i (cuLaunchKernel's <c>void**</c>); values are copied at launch.
    /// </summary>
    void Launch(GpuFunction function, Dim3 grid, Dim3 block, int sharedBytes, GpuStream stream, ReadOnlySpan<nint> args);

    // ---- streams, events, graphs -------------------------------------------------------------

    /// <summary>
    /// A stream ordered with the synchronous operations above: work enqueued on it runs after earlier
    /// synchronous copies/memsets, and a synchronous copy to the host sees all work enqueued before it.
    /// </summary>
    GpuStream CreateStream();

    /// <summary>Blocks until all work on <paramref name="stream"/> is done; surfaces asynchronous kernel faults.</summary>
    void Synchronize(GpuStream stream);

    /// <summary>Blocks until all work on the device is done.</summary>
    void Synchronize();

    /// <summary>An event; with <paramref name="timing"/> false it is cheaper and usable only for ordering.</summary>
    GpuEvent CreateEvent(bool timing = true);

    void Record(GpuEvent ev, GpuStream stream);

    void Synchronize(GpuEvent ev);

    /// <summary>Milliseconds between two recorded, completed timing events.</summary>
    float ElapsedMilliseconds(GpuEvent start, GpuEvent end);

    /// <summary>Starts recording <paramref name="stream"/>'s work into a graph instead of running it.</summary>
    void BeginCapture(GpuStream stream);

    /// <summary>Ends the capture and instantiates the graph.</summary>
    GpuGraph EndCapture(GpuStream stream);

    /// <summary>Enqueues one replay of <paramref name="graph"/>.</summary>
    void Launch(GpuGraph graph, GpuStream stream);
}
