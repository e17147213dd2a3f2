using SpecEE.Cuda.Device;
using SpecEE.Cuda.Interop;
using SpecEE.Cuda.Kernels;

namespace SpecEE.Cuda.Model;

// The launches of one decode step and the device memory they touch. Each Enqueue* only enqueues work on _stream
// (capturable: no host sync, no allocation, no scalar that changes between steps).
public sealed partial class CudaLlama
{
    // Scratch activations, all f32 and reused by every layer.
    private GpuBuffer _x = null!;       // [dim] residual stream
    private GpuBuffer _xn = null!;      // [dim] RMS-normed residual (input of QKV, gate/up, LM head)
    private GpuBuffer _q = null!;       // [nHeads·headDim] rotated query
    private GpuBuffer _att = null!;     // [nHeads·headDim] attention output (input of Wo)
    private GpuBuffer _partial = null!; // [nHeads, nSplits, headDim + 2] split-KV partial results
    private GpuBuffer _h = null!;       // [hiddenDim] silu(W1·xn) ⊙ W3·xn
    private GpuBuffer _logits = null!;  // [vocab]
    private GpuBuffer _rope = null!;    // [maxSeq, headDim/2] float2 (cos, sin): the CPU RopeTable's values
    private int _splits;

    private EmbedKernel _embed = null!;
    private RmsNormKernel _rmsNorm = null!;
    private QkvRopeKernel _qkvRope = null!;
    private AttentionKernel _attention = null!;
    private GemvKernel _gemv = null!;
    private ArgmaxKernel _argmax = null!;
    private StepAdvanceKernel _advance = null!;
    private SampleKernel? _sample;      // created by SetSampling
    private GpuBuffer? _probs;          // [vocab] f32 sampling scratch
    private GpuBuffer? _rng;            // [1] u64 SplitMix64 state of sample_f32 (advanced on the device each step)
    private float _temperature;         // 0: argmax
    private float _topP = 1f;

    /// <summary>Split-KV splits per attention launch (fixed for the cache length: the graph never changes).</summary>
    public int AttentionSplits => _splits;

    /// <summary>Kernel launches one dense step enqueues (embed, 8 per layer, final norm, LM head, argmax, advance).</summary>
    public int LaunchesPerStep => 1 + 8 * Config.NLayers + 4;

    private void CreateActivations()
    {
        int qDim = Config.NHeads * Config.HeadDim;
        _splits = AttentionKernel.DefaultSplits(_device.Info, Config.NHeads, MaxSeq);
        _x = Own(_device.Allocate(Config.Dim * 4L));
        _xn = Own(_device.Allocate(Config.Dim * 4L));
        _q = Own(_device.Allocate(qDim * 4L));
        _att = Own(_device.Allocate(qDim * 4L));
        _partial = Own(_device.Allocate(AttentionKernel.PartialBytes(Config.NHeads, _splits, Config.HeadDim)));
        _h = Own(_device.Allocate(Config.HiddenDim * 4L));
        _logits = Own(_device.Allocate(Config.Vocab * 4L));
        _rope = Own(QkvRopeKernel.UploadRopeTable(_device, Config.HeadDim, MaxSeq, Config.RopeTheta));
    }

    private void CreateKernels(bool usePtxGemv)
    {
        _embed = Own(new EmbedKernel(_device, DType));
        _rmsNorm = Own(new RmsNormKernel(_device));
        _qkvRope = Own(new QkvRopeKernel(_device, DType));
        _attention = Own(new AttentionKernel(_device));
        _gemv = Own(new GemvKernel(_device, DType, usePtxGemv));
        _argmax = Own(new ArgmaxKernel(_device));
        _advance = Own(new StepAdvanceKernel(_device));
    }

    private CUdeviceptr PosField => StepState.Field(_state, StepState.Pos);

    /// <summary>x ← embedding row of the step state's Token.</summary>
    private void EnqueueEmbed() =>
        _embed.Launch(_x, Weights.TokenEmbedding, StepState.Field(_state, StepState.Token), Config.Vocab, Config.Dim, _stream);

    /// <summary>One decoder layer on x at the step state's Pos (8 launches).</summary>
    private void EnqueueLayer(int layer)
    {
        CudaLayerWeights w = Weights.Layers[layer];
        int dim = Config.Dim, qDim = Config.NHeads * Config.HeadDim;
        _rmsNorm.Launch(_xn, _x, w.AttnNorm, 1, dim, Config.NormEps, _stream);
        _qkvRope.Launch(_q, Kv.Keys, Kv.Values, w.Wqkv, _xn, _rope, PosField, Config, MaxSeq, layer, _stream);
        _attention.Launch(_att, _partial, _q, Kv.Keys, Kv.Values, Kv.Depth, PosField, Config, MaxSeq, layer,
            _splits, AttentionKernel.DefaultMinSplitLen, _stream);
        _gemv.GemvResidual(_x.Ptr, w.Wo.Ptr, _att.Ptr, dim, qDim, _stream);
        _rmsNorm.Launch(_xn, _x, w.FfnNorm, 1, dim, Config.NormEps, _stream);
        _gemv.GateUpSwiGlu(_h.Ptr, w.W1.Ptr, w.W3.Ptr, _xn.Ptr, Config.HiddenDim, dim, _stream);
        _gemv.GemvResidual(_x.Ptr, w.W2.Ptr, _h.Ptr, dim, Config.HiddenDim, _stream);
    }

    /// <summary>logits ← classifier · finalNorm(x).</summary>
    private void EnqueueHead()
    {
        _rmsNorm.Launch(_xn, _x, Weights.FinalNorm, 1, Config.Dim, Config.NormEps, _stream);
        _gemv.LmHead(_logits.Ptr, Weights.Classifier.Ptr, _xn.Ptr, Config.Vocab, Config.Dim, _stream);
    }

    /// <summary>Step state's NextToken ← argmax(logits) (lowest index wins ties), or a seeded sample (<see cref="SetSampling"/>).</summary>
    private void EnqueueArgmax()
    {
        CUdeviceptr next = StepState.Field(_state, StepState.NextToken);
        if (_temperature > 0f)
            _sample!.Launch(next, _probs!.Ptr, _rng!.Ptr, _logits.Ptr, Config.Vocab, _temperature, _topP, _stream);
        else
            _argmax.Launch(next, _logits.Ptr, Config.Vocab, _stream);
    }
}
