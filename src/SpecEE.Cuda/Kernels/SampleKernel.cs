using SpecEE.Core;
using SpecEE.Cuda.Device;
using SpecEE.Cuda.Interop;

namespace SpecEE.Cuda.Kernels;

/// <summary>
/// Launcher of Sample.cu (<c>sample_f32</c>): seeded temperature + top-p sampling on the device with
/// <see cref="SpecEE.Core.Sampling.Sampler"/>'s algorithm and RNG (SplitMix64), so the same seed and logits
/// give the same tokens on CPU and device (see the .cu header for where rounding could make them differ).
/// </summary>
/// <remarks>
/// The RNG state is a u64 in device memory (any 8-byte-aligned slot: e.g. two int32 fields appended to
/// the step-state block at an even index, or a buffer of its own): initialise it to the seed (what <c>new Sampler(seed: s)</c>
/// starts from) and leave it there; each launch advances it once, exactly like one Sampler.Sample call
/// with temperature &gt; 0. Temperature 0 (greedy) is <see cref="ArgmaxKernel"/>, which does not touch the
/// state — as the CPU sampler's greedy path. Temperature and top-p are launch scalars (fixed per session,
/// so a captured graph stays valid). Launch: one block of <see cref="ArgmaxKernel.ThreadsFor"/>(n)
/// threads; probs is an [n] f32 scratch the kernel overwrites.
/// </remarks>
public sealed class SampleKernel : IDisposable
{
    /// <summary>Source file name; also the simulator's module name.</summary>
    public const string FileName = "Sample.cu";

    private readonly IGpuDevice _device;
    private readonly GpuModule _module;
    private readonly GpuFunction _function;

    public SampleKernel(IGpuDevice device)
    {
        _device = device;
        _module = device.LoadCudaSource(KernelSources.Read(FileName), FileName);
        _function = device.GetFunction(_module, "sample_f32");
    }

    /// <summary>
    /// token [1] int32 ← a sample of softmax(logits [n] / temperature) restricted to the top-p nucleus;
    /// probs [n] f32 scratch; rngState [1] u64 (8-byte aligned), advanced.
    /// </summary>
    public unsafe void Launch(CUdeviceptr token, CUdeviceptr probs, CUdeviceptr rngState, CUdeviceptr logits, int n,
        float temperature, float topP, GpuStream stream)
    {
        if (n <= 0) throw new InvalidRequestException($"sample_f32: n = {n} logits; need at least one");
        if (!(temperature > 0f) || !float.IsFinite(temperature))
            throw new InvalidRequestException($"sample_f32: temperature must be finite and > 0 (0 = greedy: use argmax_f32), got {temperature}");
        if (!(topP > 0f && topP <= 1f)) throw new InvalidRequestException($"sample_f32: top-p must be in (0, 1], got {topP}");
        if ((rngState.Value & 7) != 0) throw new InvalidRequestException($"sample_f32: RNG state {rngState} must be 8-byte aligned");
        int count = n;
        nint* args = stackalloc nint[] { (nint)(&token), (nint)(&probs), (nint)(&rngState), (nint)(&logits), (nint)(&count), (nint)(&temperature), (nint)(&topP) };
        _device.Launch(_function, 1, ArgmaxKernel.ThreadsFor(n), 0, stream, new ReadOnlySpan<nint>(args, 7));
    }

    public void Dispose() => _module.Dispose();
}
