using SpecEE.Core.Generation;
using SpecEE.Core.Model;
using SpecEE.Cpu;
using SpecEE.Cuda.Model;

namespace SpecEE.Cli;

/// <summary>Options every command accepts, and the backend they select.</summary>
public static class CommonOptions
{
    public static readonly string[] Valued = ["--model", "--tokenizer", "--dtype", "--threads", "--backend", "--ctx"];
    public static readonly string[] Flags = [];

    public static CliArgs Parse(string command, string[] args, IEnumerable<string> valued, IEnumerable<string> flags) =>
        CliArgs.Parse(command, args, new HashSet<string>(Valued.Concat(valued)), new HashSet<string>(Flags.Concat(flags)));

    public static WeightDType DType(CliArgs a) =>
        a.Choice("--dtype", WeightDType.F32, ("f32", WeightDType.F32), ("f16", WeightDType.F16));

    /// <summary>
    /// --ctx N: the KV cache's context length, at most the model's (its max position); 0 or absent = the model's.
    /// A shorter context needs less memory (the cache is preallocated: nLayers · ctx · kvDim · 2 floats).
    /// </summary>
    public static int Context(CliArgs a, LlamaModel model)
    {
        int ctx = a.Int("--ctx", 0, 0, int.MaxValue);
        if (ctx > model.Config.MaxSeq)
            throw new UsageException($"--ctx {ctx} is longer than the model's context of {model.Config.MaxSeq}");
        return ctx;
    }

    /// <summary>--backend: cpu (default), cuda (the first GPU) or sim (the CUDA kernels on the CPU simulator).</summary>
    public static string Backend(CliArgs a) => a.Choice("--backend", "cpu", ("cpu", "cpu"), ("cuda", "cuda"), ("sim", "sim"));

    /// <summary>
    /// The backend the options select, for <paramref name="model"/> (already rounded to the --dtype).
    /// --backend cuda without a GPU throws "no CUDA device: …" (exit 1).
    /// </summary>
    public static IDecoderBackend CreateBackend(CliArgs a, LlamaModel model)
    {
        string backend = Backend(a);
        int threads = a.Int("--threads", 0, 0, 256);
        WeightDType dtype = DType(a);
        int ctx = Context(a, model);
        return backend switch
        {
            "cuda" => CudaDecoderBackend.OpenCuda(model, dtype, ctx),
            "sim" => CudaDecoderBackend.OpenSim(model, dtype, ctx),
            _ => new CpuDecoderBackend(model, threads, dtype.ToString().ToLowerInvariant(), ctx),
        };
    }
}
