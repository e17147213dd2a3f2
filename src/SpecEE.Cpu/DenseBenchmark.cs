using System.Diagnostics;
using SpecEE.Core;
using SpecEE.Core.Model;
using SpecEE.Core.Sampling;

namespace SpecEE.Cpu;

/// <summary>Outcome of <see cref="DenseBenchmark.Run"/>; rates are medians over the timed repeats.</summary>
/// <param name="PromptTokens">Tokens prefilled before decoding (and timed as the prefill rate).</param>
/// <param name="NewTokens">Greedy tokens decoded per repeat.</param>
/// <param name="Threads">Worker threads the engine used.</param>
/// <param name="DecodeTokensPerSecond">Median dense decode rate (one Forward + argmax per token).</param>
/// <param name="PrefillTokensPerSecond">Median batched prefill rate over the prompt.</param>
/// <param name="DecodeRuns">Decode tok/s of each timed repeat, in run order.</param>
/// <param name="PrefillRuns">Prefill tok/s of each timed repeat, in run order.</param>
public sealed record DenseBenchmarkResult(
    int PromptTokens, int NewTokens, int Threads,
    double DecodeTokensPerSecond, double PrefillTokensPerSecond,
    IReadOnlyList<double> DecodeRuns, IReadOnlyList<double> PrefillRuns);

/// <summary>Dense (no early exit) decode and prefill throughput of the CPU backend, the figure to compare with llama-bench's tg/pp.</summary>
public static class DenseBenchmark
{
    /// <summary>
    /// Per repeat: prefill <paramref name="prompt"/> from position 0 (timed as prefill), then decode
    /// <paramref name="newTokens"/> greedy tokens one Forward at a time (timed as decode). <paramref name="warmup"/>
    /// untimed repeats come first so the JIT has compiled the hot loops at full optimisation.
    /// <paramref name="minParallelMacs"/> overrides <see cref="CpuLlama.MinParallelMacs"/> (0 = split every product over the threads).
    /// </summary>
    public static DenseBenchmarkResult Run(LlamaModel model, ReadOnlySpan<int> prompt, int newTokens = 128,
                                           int repeats = 5, int warmup = 2, int threads = 0, long? minParallelMacs = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (prompt.IsEmpty) throw new InvalidRequestException("benchmark prompt must hold at least one token (e.g. BOS)");
        if (newTokens < 1) throw new InvalidRequestException($"benchmark needs at least 1 new token, got {newTokens}");
        if (repeats < 1 || warmup < 0) throw new InvalidRequestException($"benchmark needs repeats ≥ 1 and warmup ≥ 0, got {repeats} and {warmup}");
        if (prompt.Length + newTokens > model.Config.MaxSeq)
            throw new InvalidRequestException(
                $"prompt of {prompt.Length} tokens + {newTokens} new tokens exceeds the model's context of {model.Config.MaxSeq}");

        using var llama = new CpuLlama(model, threads: threads);
        if (minParallelMacs is long m) llama.MinParallelMacs = m;
        var decode = new List<double>();
        var prefill = new List<double>();
        for (int i = 0; i < warmup + repeats; i++)
        {
            llama.Reset();
            long t0 = Stopwatch.GetTimestamp();
            int next = Sampler.Argmax(llama.Prefill(prompt, 0));
            double prefillSeconds = Stopwatch.GetElapsedTime(t0).TotalSeconds;

            long t1 = Stopwatch.GetTimestamp();
            for (int pos = prompt.Length; pos < prompt.Length + newTokens; pos++)
                next = Sampler.Argmax(llama.Forward(next, pos));
            double decodeSeconds = Stopwatch.GetElapsedTime(t1).TotalSeconds;

            if (i < warmup) continue;
            prefill.Add(prompt.Length / prefillSeconds);
            decode.Add(newTokens / decodeSeconds);
        }
        return new DenseBenchmarkResult(prompt.Length, newTokens, llama.Threads, Median(decode), Median(prefill), decode, prefill);
    }

    private static double Median(List<double> xs)
    {
        var s = xs.Order().ToArray();
        return s.Length % 2 == 1 ? s[s.Length / 2] : 0.5 * (s[s.Length / 2 - 1] + s[s.Length / 2]);
    }
}
