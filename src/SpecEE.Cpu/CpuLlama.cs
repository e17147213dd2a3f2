using SpecEE.Core;
using SpecEE.Core.Generation;
using SpecEE.Core.Model;

namespace SpecEE.Cpu;

/// <summary>
/// Llama forward pass on the CPU in fp32, driven step by step: SpecEE's layer loop calls
/// <see cref="Embed"/>, then <see cref="Layer"/> per layer (stopping early when it exits), and
/// <see cref="Commit"/> with the number of layers the token ran. <see cref="Forward"/> is the dense path.
/// Not thread-safe; one instance holds one sequence. Dispose stops the worker threads.
/// </summary>
public sealed class CpuLlama : IDisposable
{
    private readonly LlamaWeights _w;
    private readonly RopeTable _rope;
    private readonly CpuDecoderLayer _layer;
    private readonly float[] _hidden;  // [dim] residual stream
    private readonly float[] _normed;  // [dim] final-normed hidden of the last Forward/Prefill
    private readonly float[] _logits;  // [vocab]
    private readonly float[] _kvNormed; // [dim] scratch of ProjectKv
    private readonly CpuWorkerPool _pool;
    private readonly CpuMatMul _mm;
    private CpuPrefill? _prefill;

    /// <summary>The model's shape.</summary>
    public LlamaConfig Config { get; }
    /// <summary>The KV cache with its per-position depth (the skipped-layer mask).</summary>
    public KvCache Kv { get; }
    /// <summary>Threads (the caller included) that large decode layers, the classifier, the prefill GEMMs and prefill attention are split over (see <see cref="MinParallelMacs"/>).</summary>
    public int Threads { get; }

    /// <summary>The worker pool's stall check: how often splitting was switched off on an oversubscribed machine.</summary>
    internal CpuSplitGovernor SplitGovernor => _pool.Governor;

    // The runner's threads and GEMV, lent to the EAGLE head (it runs between steps, never concurrently).
    internal CpuWorkerPool Pool => _pool;
    internal CpuMatMul MatMul => _mm;

    /// <summary>
    /// Times the layer split was switched off because the other threads kept this one waiting (an oversubscribed
    /// machine); each time, the next few thousand jobs ran on one thread. Zero on a quiet machine.
    /// </summary>
    public long SplitBackOffs => _pool.Governor.BackOffs;
    /// <summary>Context length of this instance (≤ the model's maxSeq unless the caller asked for more).</summary>
    public int MaxSeq => Kv.MaxSeq;

    /// <param name="model">Weights and config (fp32 values; an F16 model is fp32 rounded through fp16).</param>
    /// <param name="maxSeq">Context length to allocate the KV cache for; 0 = the model's MaxSeq.</param>
    /// <param name="threads">Worker threads; 0 = auto (see <see cref="CpuThreads.Auto"/>).</param>
    public CpuLlama(LlamaModel model, int maxSeq = 0, int threads = 0)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (maxSeq < 0) throw new InvalidRequestException($"maxSeq must be ≥ 0 (0 = the model's {model.Config.MaxSeq}), got {maxSeq}");
        if (threads < 0) throw new InvalidRequestException($"threads must be ≥ 0 (0 = auto), got {threads}");
        Config = model.Config;
        _w = model.Weights;
        int seq = maxSeq == 0 ? Config.MaxSeq : maxSeq;
        Threads = threads == 0 ? CpuThreads.Auto() : threads;
        Kv = new KvCache(Config.NLayers, seq, Config.KvDim);
        _rope = new RopeTable(Config.HeadDim, seq, Config.RopeTheta);
        _pool = new CpuWorkerPool(Threads);
        _mm = new CpuMatMul(_pool);
        _layer = new CpuDecoderLayer(Config, _rope, _mm, _pool);
        _hidden = new float[Config.Dim];
        _normed = new float[Config.Dim];
        _logits = new float[Config.Vocab];
        _kvNormed = new float[Config.Dim];
    }

    /// <summary>The residual stream [dim] of the token being processed.</summary>
    public Span<float> Hidden => _hidden;

    /// <summary>Logits [vocab] written by the last <see cref="Forward"/> or <see cref="Prefill(ReadOnlySpan{int}, int)"/>.</summary>
    public ReadOnlySpan<float> LastLogits => _logits;

    /// <summary>Final-normed hidden state [dim] of the last <see cref="Forward"/> or <see cref="Prefill(ReadOnlySpan{int}, int)"/> (the EAGLE feature).</summary>
    public ReadOnlySpan<float> LastNormedHidden => _normed;

    /// <summary>Hidden = embedding row of <paramref name="token"/>.</summary>
    public void Embed(int token)
    {
        CheckToken(token);
        _w.TokenEmbedding.AsSpan(token * Config.Dim, Config.Dim).CopyTo(_hidden);
    }

    /// <summary>
    /// Runs decoder layer <paramref name="layer"/> on <see cref="Hidden"/> at position <paramref name="pos"/>, writing
    /// this layer's K/V at pos. Attention sees positions q ≤ pos with q == pos or Kv.Depth[q] &gt; layer.
    /// </summary>
    public void Layer(int layer, int pos)
    {
        if ((uint)layer >= (uint)Config.NLayers)
            throw new ArgumentOutOfRangeException(nameof(layer), layer, $"layer must be in [0, {Config.NLayers})");
        CheckPos(pos);
        _layer.Run(_w.Layers[layer], _hidden, pos, Kv.LayerKeys(layer), Kv.LayerValues(layer), Kv.Depth, layer);
    }

    /// <summary>dst = the model's final RMSNorm of <paramref name="h"/> (both [dim]).</summary>
    public void FinalNorm(ReadOnlySpan<float> h, Span<float> dst) => CpuKernels.RmsNorm(h, _w.FinalNorm, Config.NormEps, dst);

    /// <summary>logits [vocab] = classifier · <paramref name="normed"/> [dim].</summary>
    public void Logits(ReadOnlySpan<float> normed, Span<float> logits)
    {
        if (normed.Length < Config.Dim || logits.Length < Config.Vocab)
            throw new ArgumentException($"Logits needs normed ≥ {Config.Dim} and logits ≥ {Config.Vocab} floats");
        _mm.Gemv(_w.Classifier, normed, logits, Config.Dim, Config.Vocab, accumulate: false);
    }

    /// <summary>
    /// Writes layer <paramref name="layer"/>'s K/V at <paramref name="pos"/> from the hidden state <paramref name="h"/>
    /// [dim] through that layer's own attention RMSNorm and K/V weights (K rotated by RoPE at the absolute pos),
    /// without running the layer: SpecEE's "project" KV policy fills skipped layers this way after an early exit
    /// (CALM-style state propagation), so later tokens can attend to the exited position in every layer.
    /// The caller then commits the position with a depth that makes those layers visible.
    /// </summary>
    public void ProjectKv(int layer, int pos, ReadOnlySpan<float> h)
    {
        if ((uint)layer >= (uint)Config.NLayers)
            throw new ArgumentOutOfRangeException(nameof(layer), layer, $"layer must be in [0, {Config.NLayers})");
        CheckPos(pos);
        if (h.Length != Config.Dim) throw new ArgumentException($"hidden state has {h.Length} values, expected {Config.Dim}", nameof(h));
        var w = _w.Layers[layer];
        int kvDim = Config.KvDim;
        CpuKernels.RmsNorm(h, w.AttnNorm, Config.NormEps, _kvNormed);
        var kRow = Kv.LayerKeys(layer).Slice(pos * kvDim, kvDim);
        var vRow = Kv.LayerValues(layer).Slice(pos * kvDim, kvDim);
        _mm.Gemv(w.Wk, _kvNormed, kRow, Config.Dim, kvDim, accumulate: false);
        _mm.Gemv(w.Wv, _kvNormed, vRow, Config.Dim, kvDim, accumulate: false);
        _rope.Apply(kRow, pos);
    }

    /// <summary>Records that the token at <paramref name="pos"/> ran <paramref name="depth"/> layers (NLayers = dense).</summary>
    public void Commit(int pos, int depth)
    {
        CheckPos(pos);
        if (depth < 1 || depth > Config.NLayers)
            throw new ArgumentOutOfRangeException(nameof(depth), depth, $"depth must be in [1, {Config.NLayers}]");
        Kv.Depth[pos] = depth;
    }

    /// <summary>Dense step: embed, all layers, final norm, logits; commits pos as dense. Returns the logits [vocab].</summary>
    public ReadOnlySpan<float> Forward(int token, int pos)
    {
        CheckPos(pos);
        Embed(token);
        for (int l = 0; l < Config.NLayers; l++)
            _layer.Run(_w.Layers[l], _hidden, pos, Kv.LayerKeys(l), Kv.LayerValues(l), Kv.Depth, l);
        FinalNorm(_hidden, _normed);
        Logits(_normed, _logits);
        Kv.Depth[pos] = Config.NLayers;
        return _logits;
    }

    /// <summary>
    /// Dense forward of a whole prompt at positions startPos.. (batched: each weight block is reused across the
    /// prompt's tokens). Commits every position as dense. Afterwards <see cref="Hidden"/> is the last token's
    /// residual stream, and the returned span (also <see cref="LastLogits"/>) its logits [vocab].
    /// </summary>
    public ReadOnlySpan<float> Prefill(ReadOnlySpan<int> tokens, int startPos)
    {
        CheckPrefill(tokens, startPos);
        _prefill ??= new CpuPrefill(Config, _w, _rope, Kv, _pool, _mm);
        _prefill.Run(tokens, startPos, _hidden);
        FinalNorm(_hidden, _normed);
        Logits(_normed, _logits);
        return _logits;
    }

    /// <summary>
    /// Like <see cref="Prefill(ReadOnlySpan{int}, int)"/>, and also writes the logits of every prompt position into
    /// <paramref name="logits"/> ([tokens.Length, vocab] row-major): what scoring a text (perplexity) needs.
    /// </summary>
    public void Prefill(ReadOnlySpan<int> tokens, int startPos, Span<float> logits)
    {
        if (logits.Length < (long)tokens.Length * Config.Vocab)
            throw new ArgumentException($"logits must hold {tokens.Length} × {Config.Vocab} floats, got {logits.Length}", nameof(logits));
        CheckPrefill(tokens, startPos);
        _prefill ??= new CpuPrefill(Config, _w, _rope, Kv, _pool, _mm);
        _prefill.Run(tokens, startPos, _hidden, logits[..(tokens.Length * Config.Vocab)]);
        FinalNorm(_hidden, _normed);
        logits.Slice((tokens.Length - 1) * Config.Vocab, Config.Vocab).CopyTo(_logits);
    }

    /// <summary>Starts a new sequence: every cached position is forgotten.</summary>
    public void Reset() => Kv.Reset();

    /// <summary>
    /// Work smaller than this many multiply-adds stays on the calling thread: a decode layer (all its projections and
    /// attention, split in one dispatch), the classifier, a prefill GEMM. Default 2^16 (measured; the numbers are noted in
    /// CpuWorkerPool): a tinystories-16L layer (~0.2 M MACs) is split, a stories260K
    /// layer (~45 K) is not. 0 = split everything; long.MaxValue = never split. Results are bit-identical whatever the split.
    /// </summary>
    public long MinParallelMacs { get => _mm.MinParallelMacs; set => _mm.MinParallelMacs = Math.Max(0, value); }

    /// <summary>Stops the worker threads (they are background threads, so forgetting this only delays their end).</summary>
    public void Dispose() => _pool.Dispose();

    private void CheckPrefill(ReadOnlySpan<int> tokens, int startPos) => ContextChecks.Prefill(tokens, startPos, MaxSeq, Config.Vocab);
    private void CheckPos(int pos) => ContextChecks.Position(pos, MaxSeq);
    private void CheckToken(int token) => ContextChecks.Token(token, Config.Vocab);
}
