using System.Diagnostics;
using SpecEE.Core.Diagnostics;
using SpecEE.Core.Sampling;

namespace SpecEE.Core.Generation;

/// <summary>Options of one generation request.</summary>
public sealed record GenerationOptions
{
    public int MaxNewTokens { get; init; } = 128;
    public float Temperature { get; init; }
    public float TopP { get; init; } = 1f;
    public ulong Seed { get; init; } = 42;
    /// <summary>Stop when the model emits EOS (the EOS id is not part of the output).</summary>
    public bool StopAtEos { get; init; } = true;
}

/// <summary>What one generation produced, with its timings.</summary>
public sealed record GenerationResult(
    int[] PromptIds, int[] NewIds, double PrefillMs, double DecodeMs, bool StoppedAtEos, bool Cancelled,
    int EndPos, int? PendingToken)
{
    // EndPos: positions now in the KV cache; PendingToken: a generated id not yet fed back (the budget ran out).
    /// <summary>Prompt (with BOS) followed by the generated ids.</summary>
    public int[] AllIds => [.. PromptIds, .. NewIds];
    /// <summary>Decode speed: generated tokens after the first, over the time spent decoding them.</summary>
    public double DecodeTokensPerSecond => NewIds.Length > 1 && DecodeMs > 0 ? (NewIds.Length - 1) / (DecodeMs / 1000.0) : 0;
}

/// <summary>
/// The dense generation loop: prefill, then sample → forward until EOS, the token budget or the context ends.
/// The first new token comes from the prefill logits, so decode time covers tokens 2..n.
/// With <c>startPos</c> &gt; 0 the prompt continues a sequence already in the backend's KV cache (the REPL).
/// </summary>
public static class Generator
{
    public static GenerationResult Run(IDecoderBackend backend, int[] promptIds, GenerationOptions options,
        Action<int>? onToken = null, CancellationToken cancel = default, int startPos = 0)
    {
        ValidatePrompt(backend, promptIds, options, startPos);
        var sampler = new Sampler(options.Temperature, options.TopP, options.Seed);
        int budget = Math.Min(options.MaxNewTokens, backend.MaxSeq - startPos - promptIds.Length);
        var newIds = new List<int>(budget);
        if (startPos == 0) backend.Reset();
        var sw = Stopwatch.StartNew();
        ReadOnlySpan<float> logits;
        using (Nvtx.Range("prefill")) logits = backend.Prefill(promptIds, startPos); // Nsight timeline ranges
        double prefillMs = sw.Elapsed.TotalMilliseconds;
        sw.Restart();
        bool eos = false, cancelled = false;
        int pos = startPos + promptIds.Length;
        while (newIds.Count < budget)
        {
            if (cancel.IsCancellationRequested) { cancelled = true; break; }
            int next = sampler.Sample(logits);
            if (options.StopAtEos && next == backend.Config.EosId) { eos = true; break; }
            newIds.Add(next);
            onToken?.Invoke(next);
            if (newIds.Count == budget) break;
            if (newIds.Count == 1) sw.Restart(); // decode speed excludes the token that came from prefill
            using (Nvtx.Range("decode step")) logits = backend.Forward(next, pos++);
        }
        int? pending = !eos && !cancelled && newIds.Count > 0 ? newIds[^1] : null;
        return new GenerationResult(promptIds, newIds.ToArray(), prefillMs, sw.Elapsed.TotalMilliseconds, eos, cancelled,
            pos, pending);
    }

    /// <summary>The checks <see cref="Run"/> makes before touching the backend, for callers that print first.</summary>
    public static void ValidatePrompt(IDecoderBackend backend, int[] promptIds, GenerationOptions options, int startPos = 0)
    {
        if (promptIds.Length == 0) throw new InvalidRequestException("the prompt is empty (it must hold at least BOS)");
        if (startPos < 0) throw new InvalidRequestException("the start position must be ≥ 0");
        if (options.MaxNewTokens < 0) throw new InvalidRequestException("the number of new tokens must be ≥ 0");
        if (startPos + promptIds.Length > backend.MaxSeq)
            throw new InvalidRequestException(startPos == 0
                ? $"the prompt has {promptIds.Length} tokens but the context holds {backend.MaxSeq}; shorten the prompt"
                : $"the context is full: {startPos} tokens used + {promptIds.Length} new > {backend.MaxSeq}; reset the session");
        int vocab = backend.Config.Vocab;
        int bad = Array.FindIndex(promptIds, id => id < 0 || id >= vocab);
        if (bad >= 0) throw new InvalidRequestException($"prompt token {promptIds[bad]} at index {bad} is outside the vocabulary [0, {vocab})");
    }
}
