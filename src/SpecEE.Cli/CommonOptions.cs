using SpecEE.Core.Generation;
using SpecEE.Core.Model;
using SpecEE.Cpu;

namespace SpecEE.Cli;

/// <summary>Options every command accepts, and the backend they select.</summary>
public static class CommonOptions
{
    public static readonly string[] Valued = ["--model", "--tokenizer", "--dtype", "--threads", "--backend"];
    public static readonly string[] Flags = [];

    public static CliArgs Parse(string command, string[] args, IEnumerable<string> valued, IEnumerable<string> flags) =>
        CliArgs.Parse(command, args, new HashSet<string>(Valued.Concat(valued)), new HashSet<string>(Flags.Concat(flags)));

    public static WeightDType DType(CliArgs a) =>
        a.Choice("--dtype", WeightDType.F32, ("f32", WeightDType.F32), ("f16", WeightDType.F16));

    public static IDecoderBackend CreateBackend(CliArgs a, LlamaModel model)
    {
        string backend = a.Choice("--backend", "cpu", ("cpu", "cpu"));
        int threads = a.Int("--threads", 0, 0, 256);
        return backend switch
        {
            _ => new CpuDecoderBackend(model, threads, DType(a).ToString().ToLowerInvariant()),
        };
    }
}
