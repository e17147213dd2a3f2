using SpecEE.Core;
using SpecEE.Cuda.Device;
using SpecEE.Cuda.Interop;
using SpecEE.Cuda.Kernels;

namespace SpecEE.Cuda.Model;

// Batched prefill: the prompt goes through the layers in chunks of up to PrefillChunk tokens. Per layer and chunk:
// the norms, qkv_rope_*_batch (Q/K/V + RoPE + KV write of every token, weights read once per 8 tokens), one
// attention launch over all the chunk's query tokens (grid.z = token; each attends to positions ≤ its own, so the
// K/V rows later tokens of the chunk wrote are outside its causal limit), then the batched O, gate/up and down
// GEMVs. Each batched kernel sums every output in the order its single-token form does, so a batched prefill
// equals the step-by-step one bit for bit (CudaLlamaBehaviourTests).
public sealed partial class CudaLlama
{
    private const int PrefillChunk = 64;

    private GpuBuffer? _px, _pxn, _pq, _patt, _ph; // [chunk, dim], [chunk, dim], [chunk, qDim] ×2, [chunk, hiddenDim] f32
    private GpuBuffer? _ppartial;                   // [chunk] × attention partials (AttentionKernel.PartialBytes)
    private GpuBuffer _positions = null!;     // [maxSeq] int32: positions[p] = p (the pos pointer of token p's kernels)
    private GpuBuffer _promptTokens = null!;  // [maxSeq] int32: the prompt ids (embed's token pointer)

    /// <summary>
    /// True (default): <see cref="Prefill"/> batches the weight GEMVs over the prompt; false: one whole decode step per
    /// prompt token (what the batched path must equal; tests compare them).
    /// </summary>
    public bool BatchedPrefill { get; set; } = true;

    private void CreatePrefillBuffers()
    {
        _positions = Own(_device.Allocate(MaxSeq * 4L));
        _device.CopyToDevice(_positions.Ptr, Enumerable.Range(0, MaxSeq).ToArray().AsSpan());
        _promptTokens = Own(_device.Allocate(MaxSeq * 4L));
    }

    private void EnsurePrefillScratch()
    {
        if (_px is not null) return;
        int qDim = Config.NHeads * Config.HeadDim;
        _px = Own(_device.Allocate((long)PrefillChunk * Config.Dim * 4));
        _pxn = Own(_device.Allocate((long)PrefillChunk * Config.Dim * 4));
        _pq = Own(_device.Allocate((long)PrefillChunk * qDim * 4));
        _patt = Own(_device.Allocate((long)PrefillChunk * qDim * 4));
        _ppartial = Own(_device.Allocate(PrefillChunk * AttentionKernel.PartialBytes(Config.NHeads, _splits, Config.HeadDim)));
        _ph = Own(_device.Allocate((long)PrefillChunk * Config.HiddenDim * 4));
    }

    /// <summary>Enqueues the batched prefill of <paramref name="tokens"/> at startPos..; leaves the last token's residual in _x.</summary>
    private void EnqueueBatchedPrefill(ReadOnlySpan<int> tokens, int startPos)
    {
        EnsurePrefillScratch();
        int dim = Config.Dim, qDim = Config.NHeads * Config.HeadDim, hidden = Config.HiddenDim;
        // The prompt ids travel once (pinned staging → device); every prompt position is dense from the start, so
        // attention of layer ℓ at token t sees all earlier prompt tokens (depth = nLayers).
        Span<int> staged = _staging.AsSpan<int>()[..tokens.Length];
        tokens.CopyTo(staged);
        _device.CopyToDeviceAsync(_promptTokens.At(startPos * 4L, tokens.Length * 4L), _staging, 0, tokens.Length * 4L, _stream);
        _device.Memset32Async(Kv.Depth.At(startPos * 4L, tokens.Length * 4L), (uint)Config.NLayers, tokens.Length, _stream);

        for (int c0 = 0; c0 < tokens.Length; c0 += PrefillChunk)
        {
            int n = Math.Min(PrefillChunk, tokens.Length - c0), p0 = startPos + c0;
            for (int t = 0; t < n; t++)
            {
                _embed.Launch(_x, Weights.TokenEmbedding, _promptTokens.At((p0 + t) * 4L, 4), Config.Vocab, dim, _stream);
                _device.CopyDeviceToDeviceAsync(_px!.At((long)t * dim * 4, dim * 4L), _x.Ptr, dim * 4L, _stream);
            }
            for (int l = 0; l < Config.NLayers; l++)
            {
                CudaLayerWeights w = Weights.Layers[l];
                _rmsNorm.Launch(_pxn!, _px!, w.AttnNorm, n, dim, Config.NormEps, _stream);
                CUdeviceptr positions = _positions.At(p0 * 4L, n * 4L); // positions[t] = p0 + t
                _qkvRope.LaunchBatched(_pq!, Kv.Keys, Kv.Values, w.Wqkv, _pxn!, _rope, positions, n, Config, MaxSeq, l, _stream);
                _attention.LaunchBatched(_patt!, _ppartial!, _pq!, Kv.Keys, Kv.Values, Kv.Depth, positions, n, Config, MaxSeq, l,
                    _splits, AttentionKernel.DefaultMinSplitLen, _stream);
                _gemv.GemvResidualBatched(_px!.Ptr, w.Wo.Ptr, _patt!.Ptr, dim, qDim, n, _stream);
                _rmsNorm.Launch(_pxn!, _px!, w.FfnNorm, n, dim, Config.NormEps, _stream);
                _gemv.GateUpSwiGluBatched(_ph!.Ptr, w.W1.Ptr, w.W3.Ptr, _pxn!.Ptr, hidden, dim, n, _stream);
                _gemv.GemvResidualBatched(_px!.Ptr, w.W2.Ptr, _ph!.Ptr, dim, hidden, n, _stream);
            }
            if (c0 + n == tokens.Length)
                _device.CopyDeviceToDeviceAsync(_x.Ptr, _px!.At((long)(n - 1) * dim * 4, dim * 4L), dim * 4L, _stream);
        }
        EnqueueHead();
    }
}
