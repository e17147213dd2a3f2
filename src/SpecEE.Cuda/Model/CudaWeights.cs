using SpecEE.Core;
using SpecEE.Core.Model;
using SpecEE.Cuda.Device;
using SpecEE.Cuda.Kernels;

namespace SpecEE.Cuda.Model;

/// <summary>Device copies of one decoder layer's weights: matrices in the weight dtype, norm weights fp32.</summary>
public sealed class CudaLayerWeights
{
    internal CudaLayerWeights(GpuBuffer attnNorm, GpuBuffer wqkv, GpuBuffer wo,
        GpuBuffer ffnNorm, GpuBuffer w1, GpuBuffer w2, GpuBuffer w3)
    {
        AttnNorm = attnNorm; Wqkv = wqkv; Wo = wo; FfnNorm = ffnNorm; W1 = w1; W2 = w2; W3 = w3;
    }

    public GpuBuffer AttnNorm { get; } // [dim] f32
    /// <summary>[Wq; Wk; Wv] stacked: [(nHeads + 2·nKvHeads)·headDim, dim], q/k rows in interleaved-pair RoPE order (what qkv_rope reads).</summary>
    public GpuBuffer Wqkv { get; }
    public GpuBuffer Wo { get; }       // [dim, nHeads·headDim]
    public GpuBuffer FfnNorm { get; }  // [dim] f32
    public GpuBuffer W1 { get; }       // gate [hiddenDim, dim]
    public GpuBuffer W2 { get; }       // down [dim, hiddenDim]
    public GpuBuffer W3 { get; }       // up   [hiddenDim, dim]

    internal IEnumerable<GpuBuffer> All() => [AttnNorm, Wqkv, Wo, FfnNorm, W1, W2, W3];
}

/// <summary>
/// All weights of a Llama model in device memory: matrices (embedding, projections, classifier) in
/// <see cref="DType"/> (fp16 or fp32), RMSNorm weights always fp32. One allocation per tensor, so every
/// launcher can check the extent of what it is given. A tied classifier is the embedding buffer itself.
/// </summary>
public sealed class CudaWeights : IDisposable
{
    private readonly List<GpuBuffer> _owned = [];

    private CudaWeights(LlamaConfig config, WeightDType dtype)
    {
        Config = config;
        DType = dtype;
    }

    public LlamaConfig Config { get; }

    /// <summary>Storage type of the matrices (accumulation is always fp32).</summary>
    public WeightDType DType { get; }

    public GpuBuffer TokenEmbedding { get; private set; } = null!; // [vocab, dim]
    public CudaLayerWeights[] Layers { get; private set; } = [];
    public GpuBuffer FinalNorm { get; private set; } = null!;      // [dim] f32
    public GpuBuffer Classifier { get; private set; } = null!;     // [vocab, dim]; TokenEmbedding when tied

    /// <summary>Bytes of one element of a matrix.</summary>
    public int ElementBytes => DType == WeightDType.F16 ? 2 : 4;

    /// <summary>Bytes a dense decode step reads from weights (every matrix once, the embedding row, the norms).</summary>
    public long BytesPerToken
    {
        get
        {
            LlamaConfig c = Config;
            long perLayer = (long)c.Dim * (c.NHeads * c.HeadDim + 2 * c.KvDim) + (long)c.NHeads * c.HeadDim * c.Dim
                + 3L * c.HiddenDim * c.Dim;
            return ElementBytes * (perLayer * c.NLayers + (long)c.Vocab * c.Dim + c.Dim) + 4L * c.Dim * (2 * c.NLayers + 1);
        }
    }

    /// <summary>Total bytes of device memory these weights occupy.</summary>
    public long TotalBytes => _owned.Sum(b => b.Bytes);

    /// <summary>Uploads <paramref name="model"/>'s weights, converting matrices to <paramref name="dtype"/> (round to nearest even for fp16).</summary>
    public static CudaWeights Upload(IGpuDevice device, LlamaModel model, WeightDType dtype)
    {
        ArgumentNullException.ThrowIfNull(model);
        LlamaConfig c = model.Config;
        LlamaWeights w = model.Weights;
        var result = new CudaWeights(c, dtype);
        try
        {
            GpuBuffer Matrix(float[] data, string name, long expected) => Stacked([(data, name)], expected);
            // Tensors uploaded one after another into one buffer (the stacked QKV matrix), each checked for its size.
            GpuBuffer Stacked((float[] Data, string Name)[] parts, params long[] expected)
            {
                GpuBuffer b = result.Own(device.Allocate(expected.Sum() * result.ElementBytes));
                long offset = 0;
                for (int i = 0; i < parts.Length; i++)
                {
                    var (data, name) = parts[i];
                    if (data.Length != expected[i])
                        throw new ModelFormatException($"{model.SourcePath}: tensor {name} holds {data.Length} values, expected {expected[i]}");
                    if (dtype == WeightDType.F32) device.CopyToDevice(b.At(offset * 4, data.Length * 4L), data.AsSpan());
                    else UploadAsHalf(device, b, offset, data);
                    offset += data.Length;
                }
                return b;
            }
            GpuBuffer Norm(float[] data, string name)
            {
                if (data.Length != c.Dim)
                    throw new ModelFormatException($"{model.SourcePath}: tensor {name} holds {data.Length} values, expected {c.Dim}");
                GpuBuffer b = result.Own(device.Allocate(c.Dim * 4L));
                device.CopyToDevice(b.Ptr, data.AsSpan());
                return b;
            }
            int qDim = c.NHeads * c.HeadDim;
            result.TokenEmbedding = Matrix(w.TokenEmbedding, "token_embedding", (long)c.Vocab * c.Dim);
            result.Layers = new CudaLayerWeights[c.NLayers];
            for (int l = 0; l < c.NLayers; l++)
            {
                LayerWeights lw = w.Layers[l];
                result.Layers[l] = new CudaLayerWeights(
                    Norm(lw.AttnNorm, $"layers.{l}.attn_norm"),
                    Stacked([(lw.Wq, $"layers.{l}.wq"), (lw.Wk, $"layers.{l}.wk"), (lw.Wv, $"layers.{l}.wv")],
                        (long)qDim * c.Dim, (long)c.KvDim * c.Dim, (long)c.KvDim * c.Dim),
                    Matrix(lw.Wo, $"layers.{l}.wo", (long)c.Dim * qDim),
                    Norm(lw.FfnNorm, $"layers.{l}.ffn_norm"),
                    Matrix(lw.W1, $"layers.{l}.w1", (long)c.HiddenDim * c.Dim),
                    Matrix(lw.W2, $"layers.{l}.w2", (long)c.Dim * c.HiddenDim),
                    Matrix(lw.W3, $"layers.{l}.w3", (long)c.HiddenDim * c.Dim));
            }
            result.FinalNorm = Norm(w.FinalNorm, "final_norm");
            result.Classifier = ReferenceEquals(w.Classifier, w.TokenEmbedding)
                ? result.TokenEmbedding
                : Matrix(w.Classifier, "classifier", (long)c.Vocab * c.Dim);
            return result;
        }
        catch
        {
            result.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Random weights of shape <paramref name="config"/> made on the device (nothing crosses the bus): matrices
    /// uniform in ±1/√in, so activations keep their scale through the layers; norm weights 1. For speed
    /// measurements of shapes we have no checkpoint for (Llama-2-7B).
    /// </summary>
    public static CudaWeights Random(IGpuDevice device, LlamaConfig config, WeightDType dtype, uint seed, GpuStream stream)
    {
        ArgumentNullException.ThrowIfNull(config);
        var result = new CudaWeights(config, dtype);
        try
        {
            using var fill = new FillRandomKernel(device);
            uint next = seed;
            GpuBuffer Matrix(long rows, long cols)
            {
                GpuBuffer b = result.Own(device.Allocate(rows * cols * result.ElementBytes));
                fill.Launch(b, dtype, next++ * 0x9E3779B9u, 1f / MathF.Sqrt(cols), 0f, stream);
                return b;
            }
            GpuBuffer Norm()
            {
                GpuBuffer b = result.Own(device.Allocate(config.Dim * 4L));
                fill.Launch(b, WeightDType.F32, 0, 0f, 1f, stream);
                return b;
            }
            int qDim = config.NHeads * config.HeadDim;
            result.TokenEmbedding = Matrix(config.Vocab, config.Dim);
            result.Layers = new CudaLayerWeights[config.NLayers];
            for (int l = 0; l < config.NLayers; l++)
                result.Layers[l] = new CudaLayerWeights(Norm(), Matrix(qDim + 2L * config.KvDim, config.Dim), Matrix(config.Dim, qDim), Norm(),
                    Matrix(config.HiddenDim, config.Dim), Matrix(config.Dim, config.HiddenDim), Matrix(config.HiddenDim, config.Dim));
            result.FinalNorm = Norm();
            result.Classifier = config.TiedClassifier ? result.TokenEmbedding : Matrix(config.Vocab, config.Dim);
            device.Synchronize(stream);
            return result;
        }
        catch
        {
            result.Dispose();
            throw;
        }
    }

    private GpuBuffer Own(GpuBuffer buffer)
    {
        _owned.Add(buffer);
        return buffer;
    }

    // Converted in slices so a 7B-sized tensor never needs a second full-size host copy.
    private static void UploadAsHalf(IGpuDevice device, GpuBuffer destination, long elementOffset, float[] data)
    {
        const int Slice = 1 << 20;
        var half = new Half[Math.Min(Slice, data.Length)];
        for (int start = 0; start < data.Length; start += Slice)
        {
            int n = Math.Min(Slice, data.Length - start);
            for (int i = 0; i < n; i++) half[i] = (Half)data[start + i];
            device.CopyToDevice(destination.At((elementOffset + start) * 2L, n * 2L), new ReadOnlySpan<Half>(half, 0, n));
        }
    }

    public void Dispose()
    {
        foreach (GpuBuffer b in _owned) b.Dispose();
        _owned.Clear();
    }
}
