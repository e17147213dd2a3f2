using System.Text.Json;
using SpecEE.Core.Generation;
using SpecEE.Core.Model;
using SpecEE.Cpu;

namespace SpecEE.Cli;

/// <summary>`specee generate`: one prompt in, a continuation out (streamed, or one JSON object with --json).</summary>
public static class GenerateCommand
{
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr)
    {
        var a = CommonOptions.Parse("generate", args, ["--prompt", "-n", "--temp", "--top-p", "--seed", .. SpecEEOptions.Valued],
            ["--json", "--ignore-eos", .. SpecEEOptions.Flags]);
        string prompt = a.String("--prompt") ?? throw new UsageException("generate needs --prompt TEXT (an empty string starts from BOS)");
        var options = new GenerationOptions
        {
            MaxNewTokens = a.Int("-n", 128, 0, 1 << 20),
            Temperature = a.Float("--temp", 0f, 0f, 100f),
            TopP = a.Float("--top-p", 1f, 0f, 1f),
            Seed = a.ULong("--seed", 42),
            StopAtEos = !a.Has("--ignore-eos"),
        };
        bool json = a.Has("--json");
        WeightDType dtype = CommonOptions.DType(a);
        string modelPath = ModelResolver.ModelPath(a);
        var model = ModelResolver.LoadModel(a, dtype);
        var tokenizer = ModelResolver.LoadTokenizer(a, modelPath);
        int[] promptIds = tokenizer.Encode(prompt, addBos: true);
        using var backend = SpecEEOptions.CreateBackend(a, model, modelPath, stderr);

        using var cancel = new CancellationTokenSource();
        ConsoleCancelEventHandler onCtrlC = (_, e) => { e.Cancel = true; cancel.Cancel(); };
        Console.CancelKeyPress += onCtrlC;
        try
        {
            Generator.ValidatePrompt(backend, promptIds, options);
            // The prompt is echoed, so the continuation is not at the start of the text (its leading space stays).
            var stream = tokenizer.CreateStreamDecoder(atTextStart: false);
            if (!json) stdout.Write(prompt);
            var result = Generator.Run(backend, promptIds, options,
                json ? null : id => { stdout.Write(stream.Append(id)); stdout.Flush(); }, cancel.Token);
            if (json) WriteJson(stdout, model, backend, dtype, prompt, tokenizer.Decode(result.AllIds), tokenizer.Decode(result.NewIds), result);
            else
            {
                stdout.WriteLine();
                stderr.WriteLine($"[{result.NewIds.Length} tokens, {result.DecodeTokensPerSecond:F1} tok/s decode, prefill {result.PromptIds.Length} tokens in {result.PrefillMs:F1} ms, {backend.Name}{(result.Cancelled ? ", cancelled" : "")}]");
            }
            return 0;
        }
        finally
        {
            Console.CancelKeyPress -= onCtrlC;
        }
    }

    private static void WriteJson(TextWriter stdout, LlamaModel model, IDecoderBackend backend, WeightDType dtype,
        string prompt, string text, string completion, GenerationResult r)
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms))
        {
            w.WriteStartObject();
            w.WriteString("model", model.SourcePath);
            w.WriteString("format", model.Format);
            w.WriteString("backend", backend.Name);
            w.WriteString("dtype", dtype.ToString().ToLowerInvariant());
            w.WriteString("prompt", prompt);
            w.WriteNumber("prompt_tokens", r.PromptIds.Length);
            w.WriteStartArray("ids");
            foreach (int id in r.AllIds) w.WriteNumberValue(id);
            w.WriteEndArray();
            w.WriteStartArray("new_ids");
            foreach (int id in r.NewIds) w.WriteNumberValue(id);
            w.WriteEndArray();
            w.WriteString("text", text);
            w.WriteString("completion", completion);
            w.WriteNumber("new_tokens", r.NewIds.Length);
            w.WriteNumber("prefill_ms", Math.Round(r.PrefillMs, 3));
            w.WriteNumber("decode_ms", Math.Round(r.DecodeMs, 3));
            w.WriteNumber("tokens_per_s", Math.Round(r.DecodeTokensPerSecond, 2));
            w.WriteBoolean("stopped_at_eos", r.StoppedAtEos);
            w.WriteBoolean("cancelled", r.Cancelled);
            if (backend is CpuSpecEEBackend spec)
            {
                // One entry per generated token: the 0-based layer whose logits produced it (L−1 = no exit).
                var exits = spec.ExitLayers.Take(r.NewIds.Length).ToArray();
                w.WriteBoolean("specee", true);
                w.WriteNumber("threshold", spec.Policy.Predictors.Threshold);
                w.WriteNumber("n_layers", backend.Config.NLayers);
                w.WriteNumber("avg_layers", exits.Length == 0 ? backend.Config.NLayers : Math.Round(exits.Average(e => e + 1.0), 4));
                w.WriteStartArray("exit_layers");
                foreach (int e in exits) w.WriteNumberValue(e);
                w.WriteEndArray();
                w.WriteNumber("predictor_fired", spec.Policy.Statistics.Fires);
                w.WriteNumber("verify_rejected", spec.Policy.Statistics.Rejections);
            }
            else
            {
                w.WriteBoolean("specee", false);
                w.WriteNumber("n_layers", backend.Config.NLayers);
                w.WriteNumber("avg_layers", backend.Config.NLayers);
                w.WriteStartArray("exit_layers");
                foreach (int _ in r.NewIds) w.WriteNumberValue(backend.Config.NLayers - 1);
                w.WriteEndArray();
            }
            w.WriteEndObject();
        }
        stdout.WriteLine(System.Text.Encoding.UTF8.GetString(ms.ToArray()));
    }
}
