using SpecEE.Core;
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
}
