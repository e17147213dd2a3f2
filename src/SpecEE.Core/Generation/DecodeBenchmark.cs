namespace SpecEE.Core.Generation;

/// <summary>Speed of one backend on one model: medians over repeats, after one warm-up run.</summary>
public sealed record DecodeBenchmarkResult(
    int PromptTokens, int NewTokens, int Repeats,
    double MedianDecodeTokensPerSecond, double MinDecodeTokensPerSecond, double MaxDecodeTokensPerSecond,
    double MedianPrefillTokensPerSecond);

/// <summary>
/// Dense greedy decode speed, measured through the same generation loop users run (EOS ignored so every
/// repeat decodes exactly <c>newTokens</c>). Backend-agnostic: CPU, simulator and GPU are timed alike.
/// </summary>
public static class DecodeBenchmark
{
    public static DecodeBenchmarkResult Run(IDecoderBackend backend, int[] promptIds, int newTokens, int repeats)
    {
        if (repeats < 1) throw new InvalidRequestException("repeats must be ≥ 1");
        if (newTokens < 2) throw new InvalidRequestException("the benchmark needs at least 2 new tokens");
        var options = new GenerationOptions { MaxNewTokens = newTokens, StopAtEos = false };
        Generator.Run(backend, promptIds, options); // warm-up: JIT, caches, page faults
        var decode = new double[repeats];
        var prefill = new double[repeats];
        for (int i = 0; i < repeats; i++)
        {
            var r = Generator.Run(backend, promptIds, options);
            decode[i] = r.DecodeTokensPerSecond;
            prefill[i] = promptIds.Length / (r.PrefillMs / 1000.0);
        }
        return new DecodeBenchmarkResult(promptIds.Length, newTokens, repeats,
            Median(decode), decode.Min(), decode.Max(), Median(prefill));
    }

    private static double Median(double[] xs)
    {
        var s = xs.Order().ToArray();
        return s.Length % 2 == 1 ? s[s.Length / 2] : (s[s.Length / 2 - 1] + s[s.Length / 2]) / 2;
    }
}
