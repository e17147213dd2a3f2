using System.Buffers.Binary;
using System.Runtime.InteropServices;
using SpecEE.Core.Model;

namespace SpecEE.Core.Formats;

/// <summary>
/// llama2.c "legacy" (version 0) checkpoint: 7 int32 header
/// (dim, hiddenDim, nLayers, nHeads, nKvHeads, vocab, maxSeq; vocab &lt; 0 means an untied classifier),
/// then fp32 tensors in the order below. RoPE is already interleaved-pair, so rows are used as stored.
/// The trailing freq_cis tables (maxSeq × headDim/2, twice) are skipped: backends compute RoPE themselves.
/// </summary>
public static class Llama2cReader
{
    private const int HeaderBytes = 7 * 4;

    public static LlamaModel Load(string path)
    {
        if (!File.Exists(path)) throw new ModelFormatException($"{path}: file not found");
        byte[] bytes = File.ReadAllBytes(path);
        if (bytes.Length < HeaderBytes)
            throw new ModelFormatException($"{path}: truncated llama2.c checkpoint: {bytes.Length} bytes, the header alone needs {HeaderBytes}");
        Span<int> h = stackalloc int[7];
        for (int i = 0; i < 7; i++) h[i] = BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(4 * i));
        bool tied = h[5] > 0;
        var cfg = new LlamaConfig
        {
            Dim = h[0], HiddenDim = h[1], NLayers = h[2], NHeads = h[3], NKvHeads = h[4],
            Vocab = Math.Abs(h[5]), MaxSeq = h[6], TiedClassifier = tied,
        };
        cfg.Validate(path);

        long d = cfg.Dim, hd = cfg.HiddenDim, l = cfg.NLayers, v = cfg.Vocab, kv = cfg.KvDim, qd = cfg.NHeads * cfg.HeadDim;
        long ropeHalf = cfg.HeadDim / 2;
        long floats = v * d + l * d + l * qd * d + 2 * l * kv * d + l * d * qd + l * d + 3 * l * hd * d + d
                      + 2 * cfg.MaxSeq * ropeHalf + (tied ? 0 : v * d);
        long expected = HeaderBytes + 4 * floats;
        if (bytes.Length != expected)
            throw new ModelFormatException(
                $"{path}: llama2.c checkpoint has {bytes.Length} bytes, but its header ({cfg.Describe()}, {(tied ? "tied" : "untied")} classifier) needs exactly {expected}" +
                (bytes.Length < expected ? " (truncated file)" : " (trailing bytes or wrong header)"));

        int at = 0;
        float[] Take(long n)
        {
            var a = MemoryMarshal.Cast<byte, float>(bytes.AsSpan(HeaderBytes + 4 * at, (int)(4 * n))).ToArray();
            at += (int)n;
            return a;
        }
        float[][] TakeLayers(long perLayer) => Enumerable.Range(0, (int)l).Select(_ => Take(perLayer)).ToArray();

        var emb = Take(v * d);
        var attnNorm = TakeLayers(d);
        var wq = TakeLayers(qd * d);
        var wk = TakeLayers(kv * d);
        var wv = TakeLayers(kv * d);
        var wo = TakeLayers(d * qd);
        var ffnNorm = TakeLayers(d);
        var w1 = TakeLayers(hd * d);
        var w2 = TakeLayers(d * hd);
        var w3 = TakeLayers(hd * d);
        var finalNorm = Take(d);
        at += (int)(2 * cfg.MaxSeq * ropeHalf); // freq_cis_real, freq_cis_imag
        var cls = tied ? emb : Take(v * d);

        var layers = new LayerWeights[l];
        for (int i = 0; i < l; i++)
            layers[i] = new LayerWeights
            {
                AttnNorm = attnNorm[i], Wq = wq[i], Wk = wk[i], Wv = wv[i], Wo = wo[i],
                FfnNorm = ffnNorm[i], W1 = w1[i], W2 = w2[i], W3 = w3[i],
            };
        var weights = new LlamaWeights { TokenEmbedding = emb, Layers = layers, FinalNorm = finalNorm, Classifier = cls };
        WeightChecks.RequireFinite(path, weights);
        return new LlamaModel { Config = cfg, Weights = weights, SourcePath = path, Format = "llama2c" };
    }
}
