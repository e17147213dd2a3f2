using SpecEE.Core.Generation;
using SpecEE.Core.Model;

namespace SpecEE.Cpu;

/// <summary>The CPU backend behind the generation loop: dense forward through <see cref="CpuLlama"/>.</summary>
public sealed class CpuDecoderBackend : IDecoderBackend
{
    private readonly CpuLlama _llama;
    private readonly string _dtype;

    /// <param name="model">the model (weights already at the wanted precision)</param>
    /// <param name="threads">CPU threads (0 = auto)</param>
    /// <param name="dtype">weight precision label shown in <see cref="Name"/></param>
    /// <param name="maxSeq">context length of the KV cache; 0 = the model's</param>
    public CpuDecoderBackend(LlamaModel model, int threads = 0, string dtype = "f32", int maxSeq = 0)
    {
        _llama = new CpuLlama(model, maxSeq, threads);
        _dtype = dtype;
    }

    public CpuLlama Llama => _llama;
    public LlamaConfig Config => _llama.Config;
    public int MaxSeq => _llama.Kv.MaxSeq;
    public string Name => $"cpu {_dtype}";

    public ReadOnlySpan<float> Prefill(ReadOnlySpan<int> tokens, int startPos) => _llama.Prefill(tokens, startPos);
    public ReadOnlySpan<float> Forward(int token, int pos) => _llama.Forward(token, pos);
    public void Reset() => _llama.Reset();
    public void Dispose() => (_llama as IDisposable)?.Dispose();
}
