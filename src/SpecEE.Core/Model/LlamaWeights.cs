namespace SpecEE.Core.Model;

/// <summary>Weights of one decoder layer. Matrices are row-major [out, in], so y = W·x.</summary>
public sealed class LayerWeights
{
    public required float[] AttnNorm { get; init; } // [dim]
    public required float[] Wq { get; init; }       // [nHeads·headDim, dim], rows in interleaved-pair RoPE order
    public required float[] Wk { get; init; }       // [kvDim, dim], rows in interleaved-pair RoPE order
    public required float[] Wv { get; init; }       // [kvDim, dim]
    public required float[] Wo { get; init; }       // [dim, nHeads·headDim]
    public required float[] FfnNorm { get; init; }  // [dim]
    public required float[] W1 { get; init; }       // gate [hiddenDim, dim]
    public required float[] W2 { get; init; }       // down [dim, hiddenDim]
    public required float[] W3 { get; init; }       // up   [hiddenDim, dim]

    internal IEnumerable<float[]> All() => [AttnNorm, Wq, Wk, Wv, Wo, FfnNorm, W1, W2, W3];
}

/// <summary>All weights of a Llama model in fp32, whatever the file format was (F16 and Q8_0 are dequantised at load).</summary>
public sealed class LlamaWeights
{
    public required float[] TokenEmbedding { get; init; } // [vocab, dim]
    public required LayerWeights[] Layers { get; init; }
    public required float[] FinalNorm { get; init; }      // [dim]
    /// <summary>LM head [vocab, dim]; the same array as <see cref="TokenEmbedding"/> when the classifier is tied.</summary>
    public required float[] Classifier { get; init; }

    /// <summary>
    /// A copy with every weight rounded to IEEE fp16 and back (round-to-nearest-even), which is what
    /// `--dtype f16` means on the CPU: the values a GPU holding fp16 weights sees, accumulated in fp32.
    /// </summary>
    public LlamaWeights RoundedToHalf()
    {
        static float[] R(float[] a)
        {
            var r = new float[a.Length];
            for (int i = 0; i < a.Length; i++) r[i] = (float)(Half)a[i];
            return r;
        }
        var emb = R(TokenEmbedding);
        return new LlamaWeights
        {
            TokenEmbedding = emb,
            FinalNorm = R(FinalNorm),
            Classifier = ReferenceEquals(Classifier, TokenEmbedding) ? emb : R(Classifier),
            Layers = Layers.Select(l => new LayerWeights
            {
                AttnNorm = R(l.AttnNorm), Wq = R(l.Wq), Wk = R(l.Wk), Wv = R(l.Wv), Wo = R(l.Wo),
                FfnNorm = R(l.FfnNorm), W1 = R(l.W1), W2 = R(l.W2), W3 = R(l.W3),
            }).ToArray(),
        };
    }
}

/// <summary>Weight precision a backend computes with; accumulation is always fp32.</summary>
public enum WeightDType { F32, F16 }

/// <summary>A loaded model: its shape, its weights and where it came from.</summary>
public sealed class LlamaModel
{
    public required LlamaConfig Config { get; init; }
    public required LlamaWeights Weights { get; init; }
    /// <summary>The file the weights were read from.</summary>
    public required string SourcePath { get; init; }
    /// <summary>Short name of the format: "llama2c", "safetensors" or "gguf".</summary>
    public required string Format { get; init; }

    public LlamaModel WithDType(WeightDType dtype) => dtype == WeightDType.F32 ? this : new LlamaModel
    {
        Config = Config, Weights = Weights.RoundedToHalf(), SourcePath = SourcePath, Format = Format,
    };
}
