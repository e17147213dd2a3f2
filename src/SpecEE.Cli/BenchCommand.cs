using System.Globalization;
using SpecEE.Core.Generation;

namespace SpecEE.Cli;

/// <summary>`specee bench`: dense decode tok/s (median of repeats) and prefill tok/s for one model and backend.</summary>
public static class BenchCommand
{
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr)
    {
        var a = CommonOptions.Parse("bench", args, ["-n", "--repeats", "--prompt", "--prompt-tokens"], ["--json"]);
        int n = a.Int("-n", 128, 2, 1 << 16);
        int repeats = a.Int("--repeats", 5, 1, 1000);
        string prompt = a.String("--prompt") ?? "Once upon a time, there was a little girl named Lily.";
        string modelPath = ModelResolver.ModelPath(a);
        var model = ModelResolver.LoadModel(a, CommonOptions.DType(a));
        var tokenizer = ModelResolver.LoadTokenizer(a, modelPath);
        using var backend = CommonOptions.CreateBackend(a, model);
        int[] ids = tokenizer.Encode(prompt, addBos: true);
        // --prompt-tokens N: a prompt of exactly N tokens (the text repeated), like llama-bench's pp N.
        int promptTokens = a.Int("--prompt-tokens", 0, 0, backend.MaxSeq - 2);
        if (promptTokens > 0)
        {
            var longer = tokenizer.Encode(string.Join(" ", Enumerable.Repeat(prompt, promptTokens)), addBos: true);
            ids = longer[..Math.Min(promptTokens, longer.Length)];
        }
        var r = DecodeBenchmark.Run(backend, ids, Math.Min(n, backend.MaxSeq - ids.Length), repeats);
        if (a.Has("--json"))
        {
            stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{{\"model\":\"{System.Text.Json.JsonEncodedText.Encode(model.SourcePath)}\",\"backend\":\"{backend.Name}\",\"prompt_tokens\":{r.PromptTokens},\"new_tokens\":{r.NewTokens},\"repeats\":{r.Repeats},\"decode_tokens_per_s_median\":{r.MedianDecodeTokensPerSecond:F1},\"decode_tokens_per_s_min\":{r.MinDecodeTokensPerSecond:F1},\"decode_tokens_per_s_max\":{r.MaxDecodeTokensPerSecond:F1},\"prefill_tokens_per_s_median\":{r.MedianPrefillTokensPerSecond:F1}}}"));
        }
        else
        {
            stdout.WriteLine($"model    {model.SourcePath} ({model.Config.Describe()})");
            stdout.WriteLine($"backend  {backend.Name}");
            stdout.WriteLine($"decode   {r.MedianDecodeTokensPerSecond:F1} tok/s median of {r.Repeats} (min {r.MinDecodeTokensPerSecond:F1}, max {r.MaxDecodeTokensPerSecond:F1}), {r.NewTokens} new tokens after a {r.PromptTokens}-token prompt");
            stdout.WriteLine($"prefill  {r.MedianPrefillTokensPerSecond:F1} tok/s median ({r.PromptTokens} tokens)");
            if (backend is SpecEE.Cpu.CpuDecoderBackend { Llama.SplitBackOffs: > 0 and var backOffs })
                stdout.WriteLine($"note     the {backend.Name} backend's threads kept waiting for each other {backOffs} time(s) " +
                                 "(other processes on the cores?) and ran parts of the run on one thread; figures are not a quiet-machine measurement");
        }
        return 0;
    }
}
