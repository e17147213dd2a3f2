using SpecEE.Cuda.Device;
using SpecEE.Cuda.Interop;

namespace SpecEE.Cuda.Kernels;

/// <summary>
/// Launcher of StepAdvance.cu (<c>step_advance_i32</c>): commits the step's depth into the skipped-layer mask
/// and moves the step state to the next token (token ← next token, pos ← pos + 1). See the .cu header.
/// </summary>
public sealed class StepAdvanceKernel : IDisposable
{
    /// <summary>Source file name; also the simulator's module name.</summary>
    public const string FileName = "StepAdvance.cu";

    private readonly IGpuDevice _device;
    private readonly GpuModule _module;
    private readonly GpuFunction _function;

    public StepAdvanceKernel(IGpuDevice device)
    {
        _device = device;
        _module = device.LoadCudaSource(KernelSources.Read(FileName), FileName);
        _function = device.GetFunction(_module, "step_advance_i32");
    }

    /// <summary>depth [maxSeq] int32 and the step-state block <paramref name="state"/> (<see cref="StepState"/>) ← advanced.</summary>
    public unsafe void Launch(GpuBuffer depth, GpuBuffer state, int nLayers, GpuStream stream)
    {
        if (nLayers <= 0) throw new ArgumentOutOfRangeException(nameof(nLayers), $"nLayers = {nLayers} must be positive");
        CUdeviceptr pDepth = depth.Ptr, pToken = StepState.Field(state, StepState.Token), pPos = StepState.Field(state, StepState.Pos),
            pSeqLen = StepState.Field(state, StepState.SeqLen), pExited = StepState.Field(state, StepState.Exited),
            pExitLayer = StepState.Field(state, StepState.ExitLayer), pNext = StepState.Field(state, StepState.NextToken);
        int layers = nLayers;
        nint* args = stackalloc nint[] { (nint)(&pDepth), (nint)(&pToken), (nint)(&pPos), (nint)(&pSeqLen), (nint)(&pExited),
            (nint)(&pExitLayer), (nint)(&pNext), (nint)(&layers) };
        _device.Launch(_function, 1, 32, 0, stream, new ReadOnlySpan<nint>(args, 8));
    }

    public void Dispose() => _module.Dispose();
}
