using SpecEE.Core;
using SpecEE.Cuda.Device;
using SpecEE.Cuda.Interop;

namespace SpecEE.Cuda.Kernels;

/// <summary>
/// Launcher of Argmax.cu (<c>argmax_f32</c>): greedy token = lowest index of the largest logit (NaN never
/// wins, 0 when nothing is &gt; −inf: <see cref="SpecEE.Core.Sampling.Sampler.Argmax"/>'s rule), written to
/// device memory — typically <c>StepState.Field(block, StepState.NextToken)</c> — so the host reads 4 bytes
/// per token (an async copy to a pinned slot) and a captured graph can feed it to the next step.
/// </summary>
/// <remarks>Launch: one block of <see cref="ThreadsFor"/>(n) threads, no dynamic shared memory.</remarks>
public sealed class ArgmaxKernel : IDisposable
{
    /// <summary>Source file name; also the simulator's module name.</summary>
    public const string FileName = "Argmax.cu";

    private readonly IGpuDevice _device;
    private readonly GpuModule _module;
    private readonly GpuFunction _function;

    public ArgmaxKernel(IGpuDevice device)
    {
        _device = device;
        _module = device.LoadCudaSource(KernelSources.Read(FileName), FileName);
        _function = device.GetFunction(_module, "argmax_f32");
    }

    /// <summary>Block size for <paramref name="n"/> elements: ≈ 16 per thread, whole warps, 32 … 1024.</summary>
    public static int ThreadsFor(int n) => Math.Clamp((n / 16 + 31) / 32 * 32, 32, 1024);

    /// <summary>token [1] int32 ← argmax of logits [n] f32.</summary>
    public unsafe void Launch(CUdeviceptr token, CUdeviceptr logits, int n, GpuStream stream)
    {
        if (n <= 0) throw new InvalidRequestException($"argmax_f32: n = {n} logits; need at least one");
        int count = n;
        nint* args = stackalloc nint[] { (nint)(&token), (nint)(&logits), (nint)(&count) };
        _device.Launch(_function, 1, ThreadsFor(n), 0, stream, new ReadOnlySpan<nint>(args, 3));
    }

    public void Dispose() => _module.Dispose();
}
