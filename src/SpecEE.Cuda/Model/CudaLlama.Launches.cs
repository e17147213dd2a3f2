using SpecEE.Cuda.Device;
using SpecEE.Cuda.Kernels;

namespace SpecEE.Cuda.Model;

// TEMPORARY until the kernels land.
public sealed partial class CudaLlama
{
    private GpuBuffer _x = null!, _logits = null!;
    private StepAdvanceKernel _advance = null!;

    private void CreateActivations()
    {
        _x = Own(_device.Allocate(Config.Dim * 4L));
        _logits = Own(_device.Allocate(Config.Vocab * 4L));
    }

    private void CreateKernels() => _advance = Own(new StepAdvanceKernel(_device));
    private void EnqueueEmbed() => throw new NotSupportedException();
    private void EnqueueLayer(int layer) => throw new NotSupportedException();
    private void EnqueueHead() => throw new NotSupportedException();
    private void EnqueueArgmax() => throw new NotSupportedException();
}
