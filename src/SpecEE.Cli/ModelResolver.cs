using SpecEE.Core;
using SpecEE.Core.EarlyExit;
using SpecEE.Core.Formats;
using SpecEE.Core.Model;
using SpecEE.Core.Text;

namespace SpecEE.Cli;

/// <summary>Finds the model and tokenizer a command should use: --model/--tokenizer, else the embedded default.</summary>
public static class ModelResolver
{
    /// <summary>tinystories-16L, copied beside the executable at build time (models/ in the repository).</summary>
    public static string DefaultModelDir => Path.Combine(AppContext.BaseDirectory, "models", "tinystories-16L");

    public static string ModelPath(CliArgs a)
    {
        string? p = a.String("--model");
        if (p != null) return p;
        if (!Directory.Exists(DefaultModelDir))
            throw new SpecEEException($"the embedded default model is missing at {DefaultModelDir}; pass --model PATH");
        return DefaultModelDir;
    }

    public static LlamaModel LoadModel(CliArgs a, WeightDType dtype) => ModelLoader.Load(ModelPath(a)).WithDType(dtype);

    public static TextTokenizer LoadTokenizer(CliArgs a, string modelPath)
    {
        string? t = a.String("--tokenizer") ?? ModelLoader.FindTokenizer(modelPath);
        if (t == null)
            throw new SpecEEException($"no tokenizer found beside {modelPath} (looked for tokenizer.model, tok512.model or a GGUF vocabulary); pass --tokenizer PATH");
        return TextTokenizer.Load(t);
    }

    /// <summary>The folder a model path lives in (the path itself when it is a directory).</summary>
    public static string ModelDirectory(string modelPath) =>
        Directory.Exists(modelPath) ? modelPath : Path.GetDirectoryName(Path.GetFullPath(modelPath)) ?? ".";

    /// <summary>
    /// The EAGLE head: --eagle (a directory with eagle.safetensors + eagle_config.json, or the .safetensors with its
    /// config beside), else the pair beside the model; null when <paramref name="required"/> is false and none is found.
    /// </summary>
    public static EagleWeights? LoadEagle(CliArgs a, string modelPath, bool required)
    {
        string? e = a.String("--eagle");
        if (e != null)
        {
            if (Directory.Exists(e)) return EagleWeights.LoadDirectory(e);
            if (!File.Exists(e)) throw new SpecEEException($"--eagle {e}: no such file or directory");
            return EagleWeights.Load(Path.Combine(Path.GetDirectoryName(Path.GetFullPath(e)) ?? ".", "eagle_config.json"), e);
        }
        string dir = ModelDirectory(modelPath);
        bool present = File.Exists(Path.Combine(dir, "eagle.safetensors")) && File.Exists(Path.Combine(dir, "eagle_config.json"));
        if (present) return EagleWeights.LoadDirectory(dir);
        if (required) throw new SpecEEException($"no EAGLE head found beside {modelPath} (eagle.safetensors + eagle_config.json); pass --eagle PATH");
        return null;
    }

    /// <summary>The predictors: --predictors, else predictors.safetensors beside the model; null when absent and not required.</summary>
    public static PredictorSet? LoadPredictors(CliArgs a, string modelPath, int nLayers, bool required)
    {
        string? p = a.String("--predictors");
        if (p == null)
        {
            string beside = Path.Combine(ModelDirectory(modelPath), "predictors.safetensors");
            if (File.Exists(beside)) p = beside;
        }
        if (p == null)
        {
            if (required) throw new SpecEEException($"no exit predictors found beside {modelPath} (predictors.safetensors); pass --predictors PATH or train them with 'specee train-predictors'");
            return null;
        }
        if (!File.Exists(p)) throw new SpecEEException($"--predictors {p}: no such file");
        return PredictorSetFile.Read(p, nLayers);
    }
}
