using SpecEE.Core;
using SpecEE.Core.Generation;
using SpecEE.Core.Model;
using SpecEE.Cuda.Device;
using SpecEE.Cuda.Kernels;

namespace SpecEE.Cuda.Model;

/// <summary>
/// Llama decode on a CUDA device (or the simulator): weights, KV cache, scratch activations, the RoPE table and
/// the step-state block live in device memory; one decode step is a fixed sequence of launches on one stream
/// (embed → per layer: attn-norm, qkv+RoPE+KV write, split-KV attention, combine, O+residual, ffn-norm,
/// gate/up SwiGLU, down+residual → final norm → LM head → argmax → step advance) with no host sync inside.
/// The step is captured once into a CUDA graph and replayed for every token: token and position are read from
/// the step-state block (<see cref="StepState"/>), never passed as launch scalars. The host either writes them
/// (<see cref="Forward"/>: host-sampled decode) or lets the graph's last node advance them
/// (<see cref="DecodeOnDevice"/>: tokens stay on the device, 4 bytes per token come back through pinned memory).
/// </summary>
/// <remarks>
/// Why a <c>step_advance</c> kernel inside the graph rather than a host copy before each replay: a device-side
/// greedy loop then needs no host write at all, so the host can enqueue replays ahead of the tokens it reads
/// back (and part 2's early exit commits the token's depth from the device's own <c>Exited</c>/<c>ExitLayer</c>).
/// When the host does pick the token (sampling on the host), it overwrites Token/Pos with one 12-byte async copy
/// from pinned memory before the replay; the step has to be waited for anyway to read its logits.
/// Part 2 (SpecEE on the device) hooks in per layer: a predictor launch after each scheduled layer sets
/// <c>Exited</c>; later layer kernels return at once when it is set; <c>step_advance</c> commits depth = exit layer + 1.
/// Not thread-safe; one instance holds one sequence.
/// </remarks>
public sealed partial class CudaLlama : IDisposable
{
    private const int TokenRing = 8; // device greedy decode: steps the host may enqueue ahead of reading their tokens

    private readonly IGpuDevice _device;
    private readonly bool _ownsWeights;
    private readonly List<IDisposable> _owned = [];
    private readonly GpuStream _stream;
    private readonly GpuBuffer _state;        // [StepState.Count] int32
    private readonly PinnedBuffer _staging;   // [maxSeq, 4] int32: token, pos, seqLen for host-written steps
    private readonly PinnedBuffer _logitsHost; // [vocab] f32
    private readonly PinnedBuffer _tokensHost; // [TokenRing] int32
    private readonly GpuEvent[] _tokenReady;
    private readonly GpuEvent _done;
    private GpuGraph? _graph;

    /// <summary>Uploads <paramref name="model"/> (matrices as <paramref name="dtype"/>, norms fp32) and allocates a KV cache of <paramref name="maxSeq"/> positions (0 = the model's).</summary>
    public CudaLlama(IGpuDevice device, LlamaModel model, WeightDType dtype, int maxSeq = 0)
        : this(device, CudaWeights.Upload(device, model, dtype), maxSeq, ownsWeights: true, usePtxGemv: false)
    {
    }

    /// <summary>
    /// Runs with <paramref name="weights"/> already on <paramref name="device"/> (e.g. <see cref="CudaWeights.Random"/>);
    /// disposes them when <paramref name="ownsWeights"/>. <paramref name="usePtxGemv"/> (f16, GPU only) runs the O and
    /// down projections through the handwritten PTX GEMV.
    /// </summary>
    public CudaLlama(IGpuDevice device, CudaWeights weights, int maxSeq, bool ownsWeights, bool usePtxGemv = false)
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentNullException.ThrowIfNull(weights);
        _device = device;
        Weights = weights;
        _ownsWeights = ownsWeights;
        Config = weights.Config;
        if (maxSeq < 0) throw new InvalidRequestException($"maxSeq must be ≥ 0 (0 = the model's {Config.MaxSeq}), got {maxSeq}");
        MaxSeq = maxSeq == 0 ? Config.MaxSeq : maxSeq;
        try
        {
            _stream = Own(device.CreateStream());
            Kv = Own(new CudaKvCache(device, Config.NLayers, MaxSeq, Config.KvDim));
            _state = Own(device.Allocate(StepState.Bytes));
            _staging = Own(device.AllocatePinned((long)MaxSeq * 4 * sizeof(int)));
            _logitsHost = Own(device.AllocatePinned((long)Config.Vocab * sizeof(float)));
            _tokensHost = Own(device.AllocatePinned(TokenRing * sizeof(int)));
            _tokenReady = new GpuEvent[TokenRing];
            for (int i = 0; i < TokenRing; i++) _tokenReady[i] = Own(device.CreateEvent(timing: false));
            _done = Own(device.CreateEvent(timing: false));
            CreateActivations();
            CreateKernels(usePtxGemv);
            CreatePrefillBuffers();
            ResetState();
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public LlamaConfig Config { get; }
    public CudaWeights Weights { get; }
    public WeightDType DType => Weights.DType;
    public IGpuDevice Device => _device;
    /// <summary>Context length of the KV cache.</summary>
    public int MaxSeq { get; }
    public CudaKvCache Kv { get; }

    /// <summary>
    /// Replay the captured step graph (true, the default) or enqueue the same launches one by one (false: what the
    /// graph was captured from; tests compare both).
    /// </summary>
    public bool UseGraph { get; set; } = true;

    /// <summary>How many times a step graph was captured (1 after the first step: replays never recapture).</summary>
    public int GraphCaptures { get; private set; }

    // ---- dense decode ------------------------------------------------------------------------

    /// <summary>Dense step of <paramref name="token"/> at <paramref name="pos"/>; commits pos as dense. Returns the logits [vocab] (valid until the next call).</summary>
    public ReadOnlySpan<float> Forward(int token, int pos)
    {
        CheckToken(token);
        CheckPos(pos);
        StageStep(0, token, pos);
        RunStep();
        return ReadLogitsAfterStep();
    }

    /// <summary>
    /// Dense forward of a prompt at positions startPos..; commits every position as dense. Returns the last token's
    /// logits [vocab]. Batched (<see cref="BatchedPrefill"/>, the default): the layer GEMVs read each weight once per
    /// 8 prompt tokens; otherwise one decode step (graph replay) per token. No host sync until the logits.
    /// </summary>
    public ReadOnlySpan<float> Prefill(ReadOnlySpan<int> tokens, int startPos)
    {
        ContextChecks.Prefill(tokens, startPos, MaxSeq, Config.Vocab);
        if (BatchedPrefill)
        {
            EnqueueBatchedPrefill(tokens, startPos);
            return ReadLogitsAfterStep();
        }
        for (int i = 0; i < tokens.Length; i++)
        {
            StageStep(i, tokens[i], startPos + i); // one staging slot per token: no slot is rewritten before its copy ran
            RunStep();
        }
        return ReadLogitsAfterStep();
    }

    /// <summary>
    /// Decode with the token chosen on the device: feeds <paramref name="token"/> at <paramref name="pos"/>, then each
    /// step's choice (argmax, or seeded sampling after <see cref="SetSampling"/>) into the next, for
    /// <paramref name="ids"/>.Length steps; ids[i] is the token step i produced. The host only
    /// reads 4 bytes per token back and runs up to 8 steps ahead. Stops early after an EOS when
    /// <paramref name="stopAtEos"/> (the EOS is included). Returns the number of ids written.
    /// </summary>
    public int DecodeOnDevice(int token, int pos, Span<int> ids, bool stopAtEos = false)
    {
        CheckToken(token);
        CheckPos(pos);
        if (pos + ids.Length > MaxSeq)
            throw new InvalidRequestException($"{ids.Length} steps from position {pos} exceed the context of {MaxSeq} tokens");
        if (ids.IsEmpty) return 0;
        StageStep(0, token, pos);
        Span<int> ring = _tokensHost.AsSpan<int>();
        int enqueued = 0, read = 0;
        while (read < ids.Length)
        {
            while (enqueued < ids.Length && enqueued - read < TokenRing)
            {
                RunStep();
                int slot = enqueued % TokenRing;
                _device.CopyToHostAsync(_tokensHost, slot * sizeof(int), StepState.Field(_state, StepState.NextToken), sizeof(int), _stream);
                _device.Record(_tokenReady[slot], _stream);
                enqueued++;
            }
            _device.Synchronize(_tokenReady[read % TokenRing]);
            int next = ring[read % TokenRing];
            ids[read++] = next;
            if (stopAtEos && next == Config.EosId)
            {
                _device.Synchronize(_stream); // the steps enqueued after the EOS are discarded
                return read;
            }
        }
        return read;
    }

    /// <summary>
    /// How the device picks each step's token in <see cref="DecodeOnDevice"/>: <paramref name="temperature"/> 0 = argmax
    /// (the default); otherwise seeded temperature + top-p sampling with <see cref="SpecEE.Core.Sampling.Sampler"/>'s
    /// algorithm and RNG, whose state (a u64 in device memory) starts at <paramref name="seed"/> now. A different
    /// kind of choice is a different step, so the graph is recaptured at the next step.
    /// </summary>
    public void SetSampling(float temperature, float topP, ulong seed)
    {
        if (!(temperature >= 0f) || !float.IsFinite(temperature))
            throw new InvalidRequestException($"temperature must be a finite number ≥ 0 (0 = greedy), got {temperature}");
        if (!(topP > 0f && topP <= 1f)) throw new InvalidRequestException($"top-p must be in (0, 1], got {topP}");
        _device.Synchronize(_stream);
        if (temperature != _temperature || topP != _topP)
        {
            _graph?.Dispose();
            _graph = null;
        }
        _temperature = temperature;
        _topP = topP;
        if (temperature > 0f)
        {
            _sample ??= Own(new SampleKernel(_device));
            _probs ??= Own(_device.Allocate(Config.Vocab * 4L));
            _rng ??= Own(_device.Allocate(sizeof(ulong)));
            _device.CopyToDevice(_rng.Ptr, new ReadOnlySpan<ulong>(in seed));
        }
    }

    /// <summary>Starts a new sequence: every cached position is forgotten.</summary>
    public void Reset()
    {
        _device.Synchronize(_stream);
        Kv.Reset();
        ResetState();
    }

    // ---- step-wise API (mirrors CpuLlama; each call is ordered on the model's stream) ---------

    /// <summary>Hidden = embedding row of <paramref name="token"/>.</summary>
    public void Embed(int token)
    {
        CheckToken(token);
        _device.CopyToDevice(StepState.Field(_state, StepState.Token), new ReadOnlySpan<int>(in token));
        EnqueueEmbed();
    }

    /// <summary>
    /// Runs decoder layer <paramref name="layer"/> on the hidden state at <paramref name="pos"/>, writing its K/V at pos;
    /// attention sees q ≤ pos with q == pos or depth[q] &gt; layer.
    /// </summary>
    public void Layer(int layer, int pos)
    {
        if ((uint)layer >= (uint)Config.NLayers)
            throw new ArgumentOutOfRangeException(nameof(layer), layer, $"layer must be in [0, {Config.NLayers})");
        CheckPos(pos);
        ReadOnlySpan<int> posLen = [pos, pos + 1];
        _device.CopyToDevice(StepState.Field(_state, StepState.Pos), posLen);
        EnqueueLayer(layer);
    }

    /// <summary>Copies the residual stream [dim] into <paramref name="destination"/> (waits for the stream).</summary>
    public void ReadHidden(Span<float> destination) => _device.CopyToHost(destination[..Config.Dim], _x.Ptr);

    /// <summary>Overwrites the residual stream [dim].</summary>
    public void WriteHidden(ReadOnlySpan<float> source) => _device.CopyToDevice(_x.Ptr, source[..Config.Dim]);

    /// <summary>Final norm and classifier of the current hidden state into <paramref name="logits"/> [vocab] (waits).</summary>
    public void Logits(Span<float> logits)
    {
        EnqueueHead();
        _device.CopyToHost(logits[..Config.Vocab], _logits.Ptr);
    }

    /// <summary>Records that the token at <paramref name="pos"/> ran <paramref name="depth"/> layers (NLayers = dense).</summary>
    public void Commit(int pos, int depth)
    {
        CheckPos(pos);
        if (depth < 1 || depth > Config.NLayers)
            throw new ArgumentOutOfRangeException(nameof(depth), depth, $"depth must be in [1, {Config.NLayers}]");
        _device.CopyToDevice(Kv.Depth.At((long)pos * sizeof(int), sizeof(int)), new ReadOnlySpan<int>(in depth));
    }

    /// <summary>The step-state block's fields (waits for the stream): token, pos, seqLen, …, next token (see <see cref="StepState"/>).</summary>
    public int[] ReadState()
    {
        var s = new int[StepState.Count];
        _device.CopyToHost(s.AsSpan(), _state.Ptr);
        return s;
    }

    // ---- internals ---------------------------------------------------------------------------

    /// <summary>Writes token/pos/seqLen of the next step from pinned slot <paramref name="slot"/> (async, ordered before the step).</summary>
    private void StageStep(int slot, int token, int pos)
    {
        Span<int> s = _staging.AsSpan<int>().Slice(slot * 4, 3);
        s[0] = token; s[1] = pos; s[2] = pos + 1;
        // Token, Pos, SeqLen are consecutive fields of the block (offsets 0, 1, 2).
        _device.CopyToDeviceAsync(StepState.Field(_state, StepState.Token), _staging, slot * 4L * sizeof(int), 3 * sizeof(int), _stream);
    }

    /// <summary>Enqueues one whole decode step: the graph replay, or the launches themselves.</summary>
    private void RunStep()
    {
        if (!UseGraph)
        {
            EnqueueStep();
            return;
        }
        if (_graph is null)
        {
            _device.BeginCapture(_stream);
            try
            {
                EnqueueStep();
            }
            catch
            {
                try { _device.EndCapture(_stream).Dispose(); } catch (SpecEEException) { /* the capture is already broken */ }
                throw;
            }
            _graph = _device.EndCapture(_stream);
            GraphCaptures++;
        }
        _device.Launch(_graph, _stream);
    }

    /// <summary>The launches of one dense step, in order; layer-granular so part 2 can put a predictor between layers.</summary>
    private void EnqueueStep()
    {
        EnqueueEmbed();
        for (int l = 0; l < Config.NLayers; l++) EnqueueLayer(l);
        EnqueueHead();
        EnqueueArgmax();
        _advance.Launch(Kv.Depth, _state, Config.NLayers, _stream);
    }

    private ReadOnlySpan<float> ReadLogitsAfterStep()
    {
        _device.CopyToHostAsync(_logitsHost, 0, _logits.Ptr, (long)Config.Vocab * sizeof(float), _stream);
        _device.Record(_done, _stream);
        _device.Synchronize(_done);
        return _logitsHost.AsSpan<float>()[..Config.Vocab];
    }

    private void ResetState()
    {
        // By field name: fields are appended to the block over time (StepState.Count grows); the rest start at 0.
        Span<int> initial = stackalloc int[StepState.Count];
        initial.Clear();
        initial[StepState.Token] = Config.BosId;
        initial[StepState.Pos] = 0;
        initial[StepState.SeqLen] = 1;
        initial[StepState.Exited] = 0;
        initial[StepState.ExitLayer] = Config.NLayers - 1;
        initial[StepState.NextToken] = Config.BosId;
        _device.CopyToDevice(_state.Ptr, (ReadOnlySpan<int>)initial);
    }

    private void CheckPos(int pos) => ContextChecks.Position(pos, MaxSeq);
    private void CheckToken(int token) => ContextChecks.Token(token, Config.Vocab);

    private T Own<T>(T d) where T : IDisposable
    {
        _owned.Add(d);
        return d;
    }

    public void Dispose()
    {
        // Reverse order: the graph and kernels before the buffers they reference.
        _graph?.Dispose();
        for (int i = _owned.Count - 1; i >= 0; i--) _owned[i].Dispose();
        _owned.Clear();
        if (_ownsWeights) Weights.Dispose();
    }
}
