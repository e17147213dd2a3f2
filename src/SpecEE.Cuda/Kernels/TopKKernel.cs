using SpecEE.Core;
using SpecEE.Cuda.Device;
using SpecEE.Cuda.Interop;

namespace SpecEE.Cuda.Kernels;

/// <summary>
/// Launcher of <c>top4_f32</c> in Argmax.cu (it shares argmax's block reduction): the ids of the 4 largest logits, largest first, ties to the lower index
/// (EagleHead.TopK's rule), written to device memory — EAGLE's candidates for the exit predictor.
/// </summary>
/// <remarks>Launch: one block of <see cref="ArgmaxKernel.ThreadsFor"/>(n) threads, no dynamic shared memory.</remarks>
public sealed class TopKKernel : IDisposable
{
    /// <summary>Source file name (Argmax.cu); also the simulator's module name.</summary>
    public const string FileName = ArgmaxKernel.FileName;

    /// <summary>How many ids one launch writes (SpecEE's candidate count).</summary>
    public const int K = 4;

    private readonly IGpuDevice _device;
    private readonly GpuModule _module;
    private readonly GpuFunction _function;

    public TopKKernel(IGpuDevice device)
    {
        _device = device;
        _module = device.LoadCudaSource(KernelSources.Read(FileName), FileName);
        _function = device.GetFunction(_module, "top4_f32");
    }

    /// <summary>ids [4] int32 ← the top 4 of logits [n] f32 (n ≥ 4).</summary>
    public unsafe void Launch(CUdeviceptr ids, CUdeviceptr logits, int n, GpuStream stream)
    {
        if (n < K) throw new InvalidRequestException($"top4_f32: n = {n} logits; need at least {K}");
        int count = n;
        nint* args = stackalloc nint[] { (nint)(&ids), (nint)(&logits), (nint)(&count) };
        _device.Launch(_function, 1, ArgmaxKernel.ThreadsFor(n), 0, stream, new ReadOnlySpan<nint>(args, 3));
    }

    public void Dispose() => _module.Dispose();
}
