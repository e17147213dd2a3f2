using SpecEE.Core.Model;

namespace SpecEE.Core.Generation;

/// <summary>
/// What the generation loop needs from a backend (CPU, CUDA, simulator): prefill a prompt, decode one token,
/// forget the sequence. Logits spans stay valid until the next call on the same backend.
/// </summary>
public interface IDecoderBackend : IDisposable
{
    LlamaConfig Config { get; }
    /// <summary>Context length this backend's KV cache holds.</summary>
    int MaxSeq { get; }
    /// <summary>Short description for logs and --json: "cpu f32", "sim f16", ...</summary>
    string Name { get; }
    /// <summary>Runs <paramref name="tokens"/> at positions startPos.. and returns the logits of the last one [vocab].</summary>
    ReadOnlySpan<float> Prefill(ReadOnlySpan<int> tokens, int startPos);
    /// <summary>Runs one token at <paramref name="pos"/> and returns its logits [vocab].</summary>
    ReadOnlySpan<float> Forward(int token, int pos);
    void Reset();
}
