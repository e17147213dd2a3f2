using System.Globalization;
using SpecEE.Core.Generation;

namespace SpecEE.Cli;

/// <summary>`specee bench`: dense decode tok/s (median of repeats) and prefill tok/s for one model and backend.</summary>
public static class BenchCommand
{
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr)
    {
        var a = CommonOptions.Parse("bench", args, ["-n", "--repeats", "--prompt", "--prompt-tokens", .. SpecEEOptions.Valued], ["--json", "--specee"]);
        int n = a.Int("-n", 128, 2, 1 << 16);
        int repeats = a.Int("--repeats", 5, 1, 1000);
        string prompt = a.String("--prompt") ?? "Once upon a time, there was a little girl named Lily.";
        string modelPath = ModelResolver.ModelPath(a);
        var model = ModelResolver.LoadModel(a, CommonOptions.DType(a));
        var tokenizer = ModelResolver.LoadTokenizer(a, modelPath);
        // Dense by default (the engine's speed); --specee times SpecEE decode the way generate runs it, so the two
        // can be compared with the same harness. SpecEE needs the EAGLE head and predictors beside the model (or given).
        using var backend = a.Has("--specee") ? CreateSpecEEBackend(a, model, modelPath, stderr) : CommonOptions.CreateBackend(a, model);
        var spec = backend as SpecEE.Cpu.CpuSpecEEBackend;
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
                $"{{\"model\":\"{System.Text.Json.JsonEncodedText.Encode(model.SourcePath)}\",\"backend\":\"{backend.Name}\",\"prompt_tokens\":{r.PromptTokens},\"new_tokens\":{r.NewTokens},\"repeats\":{r.Repeats},\"decode_tokens_per_s_median\":{r.MedianDecodeTokensPerSecond:F1},\"decode_tokens_per_s_min\":{r.MinDecodeTokensPerSecond:F1},\"decode_tokens_per_s_max\":{r.MaxDecodeTokensPerSecond:F1},\"prefill_tokens_per_s_median\":{r.MedianPrefillTokensPerSecond:F1}{(spec == null ? "" : $",\"avg_layers\":{spec.Policy.Statistics.AverageLayers:F3}")}}}"));
        }
        else
        {
            stdout.WriteLine($"model    {model.SourcePath} ({model.Config.Describe()})");
            stdout.WriteLine($"backend  {backend.Name}");
            stdout.WriteLine($"decode   {r.MedianDecodeTokensPerSecond:F1} tok/s median of {r.Repeats} (min {r.MinDecodeTokensPerSecond:F1}, max {r.MaxDecodeTokensPerSecond:F1}), {r.NewTokens} new tokens after a {r.PromptTokens}-token prompt");
            stdout.WriteLine($"prefill  {r.MedianPrefillTokensPerSecond:F1} tok/s median ({r.PromptTokens} tokens)");
            if (spec != null) stdout.WriteLine($"specee   {spec.Policy.Statistics}");
            if (backend is SpecEE.Cpu.CpuDecoderBackend { Llama.SplitBackOffs: > 0 and var backOffs })
                stdout.WriteLine($"note     the {backend.Name} backend's threads kept waiting for each other {backOffs} time(s) " +
                                 "(other processes on the cores?) and ran parts of the run on one thread; figures are not a quiet-machine measurement");
        }
        return 0;
    }

    private static SpecEE.Core.Generation.IDecoderBackend CreateSpecEEBackend(CliArgs a, SpecEE.Core.Model.LlamaModel model, string modelPath, TextWriter stderr)
    {
        if (a.String("--backend") is string b && b != "cpu")
            throw new UsageException($"--specee runs on the CPU backend only so far, not --backend {b}");
        var backend = SpecEEOptions.CreateBackend(a, model, modelPath, stderr);
        if (backend is SpecEE.Cpu.CpuSpecEEBackend) return backend;
        backend.Dispose();
        throw new UsageException("--specee needs an EAGLE head and predictors (beside the model, or --eagle and --predictors)");
    }
}
