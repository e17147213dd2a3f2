using SpecEE.Core.EarlyExit;
using SpecEE.Core.Generation;
using SpecEE.Core.Model;

namespace SpecEE.Cpu;

/// <summary>
/// SpecEE behind the ordinary generation loop (<see cref="Generator"/>, the REPL): <see cref="Prefill"/> is the dense
/// prompt forward that also feeds EAGLE, and <see cref="Forward"/> is one SpecEE step whose returned logits are the
/// exit layer's when the step exited. The loop's sampler therefore samples from the exit layer's distribution;
/// greedy picks exactly the verified exit token. The sampled token comes back as the next Forward's input and is
/// what EAGLE drafts from, as in SpecEE (emitted token + exit layer's normed state).
/// </summary>
public sealed class CpuSpecEEBackend : IDecoderBackend
{
    private readonly CpuLlama _llama;
    private readonly CpuSpecEE _engine;
    private readonly List<int> _exitLayers = [];
    private readonly string _name;

    /// <param name="model">base model</param>
    /// <param name="eagle">its EAGLE-1 head</param>
    /// <param name="predictors">predictors, offline set and threshold</param>
    /// <param name="kvPolicy">skipped-layer KV handling</param>
    /// <param name="threads">CPU threads (0 = auto)</param>
    /// <param name="maxSeq">context length of both KV caches; 0 = the model's</param>
    public CpuSpecEEBackend(LlamaModel model, EagleWeights eagle, PredictorSet predictors, KvPolicy kvPolicy = KvPolicy.Mask, int threads = 0,
        int maxSeq = 0)
    {
        ArgumentNullException.ThrowIfNull(model);
        _llama = new CpuLlama(model, maxSeq, threads);
        var head = new EagleHead(eagle, model, _llama.MaxSeq, threadsOf: _llama);
        Policy = new ExitPolicy(predictors);
        _engine = new CpuSpecEE(_llama, model, head, Policy) { KvPolicy = kvPolicy };
        _name = $"cpu specee (threshold {predictors.Threshold:0.###}, kv {kvPolicy.ToString().ToLowerInvariant()})";
    }

    /// <summary>The exit policy (its statistics count every step since construction).</summary>
    public ExitPolicy Policy { get; }

    /// <summary>
    /// Last executed layer of each token produced since the last prefill at position 0: the first from the
    /// prefill's logits (L−1), then one per <see cref="Forward"/>.
    /// </summary>
    public IReadOnlyList<int> ExitLayers => _exitLayers;

    /// <inheritdoc/>
    public LlamaConfig Config => _llama.Config;
    /// <inheritdoc/>
    public int MaxSeq => _llama.MaxSeq;
    /// <inheritdoc/>
    public string Name => _name;

    /// <inheritdoc/>
    public ReadOnlySpan<float> Prefill(ReadOnlySpan<int> tokens, int startPos)
    {
        if (startPos == 0) _exitLayers.Clear();
        var logits = _engine.PrefillTokens(tokens, startPos);
        _exitLayers.Add(Config.NLayers - 1);
        return logits;
    }

    /// <inheritdoc/>
    public ReadOnlySpan<float> Forward(int token, int pos)
    {
        var logits = _engine.DecodeStep(token, pos);
        _exitLayers.Add(_engine.LastExitLayer);
        return logits;
    }

    /// <inheritdoc/>
    public void Reset()
    {
        _llama.Reset();
        _exitLayers.Clear();
    }

    /// <inheritdoc/>
    public void Dispose() => _llama.Dispose();
}
