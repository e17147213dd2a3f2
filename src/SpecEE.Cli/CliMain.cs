using SpecEE.Core;

namespace SpecEE.Cli;

/// <summary>Dispatches the sub-commands and turns every expected failure into one line on stderr and an exit code.</summary>
public static class CliMain
{
    public const string Usage = """
        specee — SpecEE.Native inference runtime

        usage: specee <command> [options]

        commands:
          generate   generate text from a prompt
          repl       interactive prompt; tokens stream back (/help inside)
          bench      decode and prefill speed (median of repeats): dense, or SpecEE with --specee
          eval       forced decoding of a text: SpecEE vs dense (NLL, agreement, layers)
          train-predictors  train SpecEE's exit predictors and pick the offline layer set

        common options:
          --model PATH        model file or directory (llama2.c .bin, HF dir with config.json +
                              model.safetensors, or .gguf); default: embedded tinystories-16L
          --tokenizer PATH    SentencePiece .model or .gguf; default: found beside the model
          --dtype f32|f16     weight precision (accumulation is always fp32); default f32
          --threads N         CPU threads (0 = auto)
          --ctx N             context length of the KV cache, at most the model's (default: the model's)
          --backend cpu|cuda|sim
                              cpu (default); cuda: the first NVIDIA GPU (driver + NVRTC);
                              sim: the CUDA kernels on the CPU simulator (libspecee_cudasim.so)

        SpecEE options (generate, repl, eval; bench with --specee): on by default when the model has eagle.safetensors +
        eagle_config.json + predictors.safetensors beside it
          --eagle PATH  --predictors PATH  --threshold T (default 0.5)  --kv-policy mask|project
          --no-exit (dense; generate/repl)

        generate options:
          --prompt TEXT  -n N  --temp T  --top-p P  --seed S  --json  --ignore-eos
        eval options:
          --data TEXT  --max-tokens N (default 20000)  --json  --sweep (thresholds × KV policies)
        train-predictors options:
          --data TEXT  --out FILE  --seed S  --epochs N (100)  --max-tokens N (30000)
          --coverage C (0.8)  --max-offline K  --delta previous|scheduled (previous = SpecEE)
        bench options:
          -n N (new tokens per run)  --repeats R  --prompt TEXT  --prompt-tokens N  --json
          --specee (time SpecEE decode, with the SpecEE options; prints its exit counters)
        """;

    /// <summary>Exit codes: 0 ok, 1 a runtime error with a message (bad file, no device, …), 2 bad command line.</summary>
    public static int Run(string[] args, TextWriter? stdout = null, TextWriter? stderr = null, TextReader? stdin = null)
    {
        stdout ??= Console.Out;
        stderr ??= Console.Error;
        stdin ??= Console.In;
        if (args.Length == 0 || args[0] is "-h" or "--help" or "help")
        {
            (args.Length == 0 ? stderr : stdout).WriteLine(Usage);
            return args.Length == 0 ? 2 : 0;
        }
        try
        {
            return args[0] switch
            {
                "generate" => GenerateCommand.Run(args[1..], stdout, stderr),
                "repl" => ReplCommand.Run(args[1..], stdout, stderr, stdin),
                "bench" => BenchCommand.Run(args[1..], stdout, stderr),
                "eval" => EvalCommand.Run(args[1..], stdout, stderr),
                "train-predictors" => TrainPredictorsCommand.Run(args[1..], stdout, stderr),
                _ => throw new UsageException($"unknown command '{args[0]}'"),
            };
        }
        catch (UsageException e)
        {
            stderr.WriteLine($"specee: {e.Message}");
            stderr.WriteLine("run 'specee --help' for usage");
            return 2;
        }
        catch (SpecEEException e)
        {
            stderr.WriteLine($"specee: error: {e.Message}");
            return 1;
        }
        catch (OutOfMemoryException)
        {
            stderr.WriteLine("specee: error: out of memory while loading or running the model");
            return 1;
        }
        catch (IOException e)
        {
            stderr.WriteLine($"specee: error: {e.Message}");
            return 1;
        }
        catch (UnauthorizedAccessException e)
        {
            stderr.WriteLine($"specee: error: {e.Message}");
            return 1;
        }
    }
}
