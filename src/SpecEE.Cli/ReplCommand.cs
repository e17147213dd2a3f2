using SpecEE.Core;
using SpecEE.Core.Generation;
using SpecEE.Core.Text;

namespace SpecEE.Cli;

/// <summary>
/// `specee repl`: a minimal interactive loop. Each line continues the same sequence (its KV cache is kept)
/// until /reset. Ctrl-C stops the generation in progress, not the REPL.
/// </summary>
public static class ReplCommand
{
    private const string Help = """
        Type text and press Enter: the model continues it, tokens stream back.
          /help   this text
          /reset  forget the conversation (clears the KV cache)
          /stats  speed (and SpecEE exits) of the last generation, context use
          /quit   leave (also Ctrl-D)
        Ctrl-C stops a generation in progress.
        """;

    public static int Run(string[] args, TextWriter stdout, TextWriter stderr, TextReader stdin)
    {
        var a = CommonOptions.Parse("repl", args, ["-n", "--temp", "--top-p", "--seed", .. SpecEEOptions.Valued], SpecEEOptions.Flags);
        var options = new GenerationOptions
        {
            MaxNewTokens = a.Int("-n", 128, 1, 1 << 20),
            Temperature = a.Float("--temp", 0f, 0f, 100f),
            TopP = a.Float("--top-p", 1f, 0f, 1f),
            Seed = a.ULong("--seed", 42),
        };
        string modelPath = ModelResolver.ModelPath(a);
        var model = ModelResolver.LoadModel(a, CommonOptions.DType(a));
        var tokenizer = ModelResolver.LoadTokenizer(a, modelPath);
        using var backend = SpecEEOptions.CreateBackend(a, model, modelPath, stderr);
        var session = new ReplSession(backend, tokenizer, options);

        CancellationTokenSource? running = null;
        ConsoleCancelEventHandler onCtrlC = (_, e) =>
        {
            e.Cancel = true; // never kill the REPL
            var r = running;
            if (r != null) r.Cancel(); else stderr.WriteLine("\n(use /quit to leave)");
        };
        Console.CancelKeyPress += onCtrlC;
        try
        {
            stdout.WriteLine($"specee repl — {model.SourcePath} ({backend.Name}, context {backend.MaxSeq}). /help for commands.");
            while (true)
            {
                stdout.Write("> ");
                stdout.Flush();
                string? line = stdin.ReadLine();
                if (line == null || line.Trim() == "/quit") break;
                string cmd = line.Trim();
                if (cmd.StartsWith('/'))
                {
                    switch (cmd)
                    {
                        case "/help": stdout.WriteLine(Help); break;
                        case "/reset": session.Reset(); stdout.WriteLine("(context cleared)"); break;
                        case "/stats": stdout.WriteLine(session.Stats()); break;
                        default: stdout.WriteLine($"unknown command {cmd}"); stdout.WriteLine(Help); break;
                    }
                    continue;
                }
                if (cmd.Length == 0) continue;
                running = new CancellationTokenSource();
                try
                {
                    session.Turn(line, id => { stdout.Write(id); stdout.Flush(); }, running.Token);
                    stdout.WriteLine();
                }
                catch (InvalidRequestException e)
                {
                    stdout.WriteLine($"(error: {e.Message})");
                }
                finally
                {
                    running.Dispose();
                    running = null;
                }
            }
            return 0;
        }
        finally
        {
            Console.CancelKeyPress -= onCtrlC;
        }
    }
}

/// <summary>The REPL's sequence state: how much of the context is used and the last token not yet fed back.</summary>
public sealed class ReplSession(IDecoderBackend backend, TextTokenizer tokenizer, GenerationOptions options)
{
    private int _pos;
    private int? _pending;
    private GenerationResult? _last;

    public int Position => _pos;

    public void Reset()
    {
        _pos = 0;
        _pending = null;
        backend.Reset();
    }

    /// <summary>Feeds <paramref name="text"/> after what came before and streams the continuation's text pieces.</summary>
    public GenerationResult Turn(string text, Action<string> onText, CancellationToken cancel)
    {
        int[] ids = tokenizer.Encode(text, addBos: _pos == 0);
        int[] feed = _pending is int p ? [p, .. ids] : ids;
        var stream = tokenizer.CreateStreamDecoder(atTextStart: false); // the user's text is already on screen
        // /stats reports this turn, so the SpecEE counters start over with it (like its token count and speed).
        if (backend is SpecEE.Cpu.CpuSpecEEBackend spec) spec.Policy.Statistics.Reset();
        var r = Generator.Run(backend, feed, options, id => onText(stream.Append(id)), cancel, _pos);
        _pos = r.EndPos;
        _pending = r.PendingToken;
        _last = r;
        return r;
    }

    public string Stats() => _last is not { } r
        ? $"no generation yet; context {_pos}/{backend.MaxSeq}"
        : $"last: {r.NewIds.Length} tokens, {r.DecodeTokensPerSecond:F1} tok/s decode, prefill {r.PromptIds.Length} tokens in {r.PrefillMs:F1} ms; context {_pos}/{backend.MaxSeq}; {backend.Name}" +
          (backend is SpecEE.Cpu.CpuSpecEEBackend spec ? $"; specee {spec.Policy.Statistics}" : "");
}
