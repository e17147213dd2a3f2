using SpecEE.Core.EarlyExit;
using SpecEE.Core.Generation;
using SpecEE.Core.Model;
using SpecEE.Cpu;

namespace SpecEE.Cli;

/// <summary>
/// The SpecEE options of generate, repl and eval, and the backend they select: SpecEE is on when the model has an
/// EAGLE head and predictors beside it (or given with --eagle / --predictors), unless --no-exit asks for dense.
/// </summary>
public static class SpecEEOptions
{
    public static readonly string[] Valued = ["--eagle", "--predictors", "--threshold", "--kv-policy"];
    public static readonly string[] Flags = ["--no-exit"];

    /// <summary>--threshold (default 0.5, SpecEE's); values above 1 never fire (dense output through the SpecEE path).</summary>
    public static float Threshold(CliArgs a) => a.Float("--threshold", 0.5f, 0f, 1000f);

    /// <summary>--kv-policy mask|project (default mask, SpecEE's own).</summary>
    public static KvPolicy KvPolicy(CliArgs a) =>
        a.Choice("--kv-policy", Core.EarlyExit.KvPolicy.Mask, ("mask", Core.EarlyExit.KvPolicy.Mask), ("project", Core.EarlyExit.KvPolicy.Project));

    /// <summary>
    /// SpecEE backend when enabled and available, else the dense backend of <see cref="CommonOptions.CreateBackend"/>.
    /// Explicit --eagle / --predictors that cannot be loaded are errors; missing defaults silently mean dense.
    /// </summary>
    public static IDecoderBackend CreateBackend(CliArgs a, LlamaModel model, string modelPath, TextWriter notes)
    {
        float threshold = Threshold(a);
        var kv = KvPolicy(a);
        bool explicitSpecEE = a.Has("--eagle") || a.Has("--predictors");
        if (a.Has("--no-exit"))
        {
            if (explicitSpecEE) throw new UsageException("--no-exit runs the dense model; it cannot be combined with --eagle or --predictors");
            return CommonOptions.CreateBackend(a, model);
        }
        if (a.String("--backend") is string b && b != "cpu")
        {
            // SpecEE on the device is the CUDA backend's part 2; until then say so instead of silently going dense.
            if (explicitSpecEE) throw new UsageException($"SpecEE runs on the CPU backend only so far; use --backend cpu, or --no-exit with --backend {b}");
            var dense = CommonOptions.CreateBackend(a, model); // first: a missing device is the one error to report
            notes.WriteLine($"specee: note: SpecEE runs on the CPU backend only so far; --backend {b} decodes densely");
            return dense;
        }
        var eagle = ModelResolver.LoadEagle(a, modelPath, required: explicitSpecEE);
        var predictors = ModelResolver.LoadPredictors(a, modelPath, model.Config.NLayers, required: explicitSpecEE);
        if (eagle == null || predictors == null) return CommonOptions.CreateBackend(a, model);
        predictors.Threshold = threshold;
        return new CpuSpecEEBackend(model, eagle, predictors, kv, a.Int("--threads", 0, 0, 256), CommonOptions.Context(a, model));
    }
}
