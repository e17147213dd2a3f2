using System.Reflection;

namespace SpecEE.Cuda.Kernels;

/// <summary>Kernel sources and headers embedded in this assembly (Kernels/*.cu, *.cuh).</summary>
public static class KernelSources
{
    /// <summary>File name kernels include: <c>#include "specee_prelude.cuh"</c>.</summary>
    public const string PreludeName = "specee_prelude.cuh";

    private static readonly Lazy<string> PreludeText = new(() => Read(PreludeName));

    /// <summary>Text of <see cref="PreludeName"/>.</summary>
    public static string Prelude => PreludeText.Value;

    /// <summary>Text of the embedded file <paramref name="fileName"/> (e.g. "RmsNorm.cu").</summary>
    public static string Read(string fileName)
    {
        Assembly assembly = typeof(KernelSources).Assembly;
        using Stream? stream = assembly.GetManifestResourceStream("SpecEE.Cuda.Kernels." + fileName);
        if (stream is null)
            throw new InvalidOperationException($"kernel source {fileName} is not embedded in {assembly.GetName().Name}");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
