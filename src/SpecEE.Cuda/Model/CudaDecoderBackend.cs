using SpecEE.Core.Generation;
using SpecEE.Core.Model;
using SpecEE.Cuda.Device;

namespace SpecEE.Cuda.Model;

/// <summary>
/// The CUDA backend behind the generation loop: dense decode through <see cref="CudaLlama"/> (one CUDA graph
/// replayed per token), on a GPU (<see cref="OpenCuda"/>) or on the CPU simulator (<see cref="OpenSim"/>).
/// The loop samples on the host from the logits this returns, exactly as with the CPU backend.
/// </summary>
public sealed class CudaDecoderBackend : IDecoderBackend
{
    private readonly IGpuDevice _device;
    private readonly string _kind;

    /// <summary>Runs <paramref name="model"/> on <paramref name="device"/>; the backend owns and disposes the device.</summary>
    public CudaDecoderBackend(IGpuDevice device, LlamaModel model, WeightDType dtype, string kind, int maxSeq = 0)
    {
        _device = device;
        _kind = kind;
        try
        {
            Llama = new CudaLlama(device, model, dtype, maxSeq);
        }
        catch
        {
            device.Dispose();
            throw;
        }
    }

    /// <summary>The first GPU. Without one: <see cref="SpecEE.Core.SpecEEException"/> "no CUDA device: …".</summary>
    public static CudaDecoderBackend OpenCuda(LlamaModel model, WeightDType dtype, int maxSeq = 0) =>
        new(CudaDriverDevice.Open(), model, dtype, "cuda", maxSeq);

    /// <summary>The CPU simulator (libspecee_cudasim.so). Without it: "CUDA simulator not available: …".</summary>
    public static CudaDecoderBackend OpenSim(LlamaModel model, WeightDType dtype, int maxSeq = 0) =>
        new(SimDevice.Open(), model, dtype, "sim", maxSeq);

    /// <summary>The device model (step-wise API, device-side greedy decode).</summary>
    public CudaLlama Llama { get; }

    public LlamaConfig Config => Llama.Config;
    public int MaxSeq => Llama.MaxSeq;
    public string Name => $"{_kind} {Llama.DType.ToString().ToLowerInvariant()}";

    public ReadOnlySpan<float> Prefill(ReadOnlySpan<int> tokens, int startPos) => Llama.Prefill(tokens, startPos);
    public ReadOnlySpan<float> Forward(int token, int pos) => Llama.Forward(token, pos);
    public void Reset() => Llama.Reset();

    public void Dispose()
    {
        Llama.Dispose();
        _device.Dispose();
    }
}
