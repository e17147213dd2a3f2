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

    /// <summary>First word of llama2.c's versioned exports (version 1+), which this reader does not read.</summary>
    private const uint VersionedMagic = 0x616b3432; // "ak42"

    public static LlamaModel Load(string path)
    {
        if (!File.Exists(path)) throw new ModelFormatException($"{path}: file not found");
        try
        {
            // Streamed tensor by tensor: a 7B export is 26 GB, far past a single byte[]; each tensor fits an array.
            using var f = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20);
            return Load(path, f);
        }
        catch (EndOfStreamException e)
        {
            throw new ModelFormatException($"{path}: the file got shorter while it was being read", e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or OutOfMemoryException)
        {
            throw new ModelFormatException($"{path}: cannot read ({e.Message})", e);
        }
    }

    private static LlamaModel Load(string path, FileStream f)
    {
        long length = f.Length;
        Span<byte> head = stackalloc byte[HeaderBytes];
        int got = f.ReadAtLeast(head, HeaderBytes, throwOnEndOfStream: false);
        if (got < HeaderBytes)
            throw new ModelFormatException($"{path}: truncated llama2.c checkpoint: {length} bytes, the header alone needs {HeaderBytes}");
        if (BinaryPrimitives.ReadUInt32LittleEndian(head) == VersionedMagic)
            throw new ModelFormatException(
                $"{path}: llama2.c export version {BinaryPrimitives.ReadInt32LittleEndian(head[4..])} is not supported; " +
                "export the legacy (version 0) format (llama2.c export.py --version 0)");
        var cfg = ParseHeader(head);
        cfg.Validate(path);
        bool tied = cfg.TiedClassifier;
        long expected = ExpectedBytes(cfg);
        if (length != expected)
            throw new ModelFormatException(
                $"{path}: llama2.c checkpoint has {length} bytes, but its header ({cfg.Describe()}, {(tied ? "tied" : "untied")} classifier) needs exactly {expected}" +
                (length < expected ? " (truncated file)" : " (trailing bytes or wrong header)"));

        long d = cfg.Dim, hd = cfg.HiddenDim, l = cfg.NLayers, v = cfg.Vocab, kv = cfg.KvDim, qd = cfg.NHeads * cfg.HeadDim;
        long ropeHalf = cfg.HeadDim / 2;
        float[] Take(long n)
        {
            if (n > Array.MaxLength)
                throw new ModelFormatException($"{path}: a tensor of {n} floats is larger than one array can hold");
            var a = new float[n];
            f.ReadExactly(MemoryMarshal.AsBytes(a.AsSpan()));
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
        f.Seek(4 * 2 * cfg.MaxSeq * ropeHalf, SeekOrigin.Current); // freq_cis_real, freq_cis_imag
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

    /// <summary>
    /// True when <paramref name="head"/> (the first 28+ bytes) is a valid legacy header whose tensors need exactly
    /// <paramref name="fileLength"/> bytes: the content test <see cref="ModelLoader"/> uses, since the format has no magic.
    /// </summary>
    internal static bool HeaderMatchesLength(ReadOnlySpan<byte> head, long fileLength)
    {
        if (head.Length < HeaderBytes) return false;
        var cfg = ParseHeader(head);
        try
        {
            cfg.Validate("header");
        }
        catch (ModelFormatException)
        {
            return false;
        }
        return ExpectedBytes(cfg) == fileLength;
    }

    /// <summary>Vocabulary size from a legacy header, or null when the header is not plausible.</summary>
    internal static int? HeaderVocab(ReadOnlySpan<byte> head)
    {
        if (head.Length < HeaderBytes) return null;
        var cfg = ParseHeader(head);
        try
        {
            cfg.Validate("header");
        }
        catch (ModelFormatException)
        {
            return null;
        }
        return cfg.Vocab;
    }

    private static LlamaConfig ParseHeader(ReadOnlySpan<byte> bytes)
    {
        Span<int> h = stackalloc int[7];
        for (int i = 0; i < 7; i++) h[i] = BinaryPrimitives.ReadInt32LittleEndian(bytes[(4 * i)..]);
        // vocab > 0: classifier shared with the embedding; < 0: its own classifier follows. int.MinValue has no
        // absolute value; 0 stays 0 and fails Validate like any other non-positive dimension.
        int vocab = h[5] == int.MinValue ? 0 : Math.Abs(h[5]);
        return new LlamaConfig
        {
            Dim = h[0], HiddenDim = h[1], NLayers = h[2], NHeads = h[3], NKvHeads = h[4],
            Vocab = vocab, MaxSeq = h[6], TiedClassifier = h[5] > 0,
        };
    }

    /// <summary>Header + every tensor in fp32 for a config that passed <see cref="LlamaConfig.Validate"/> (so no overflow).</summary>
    private static long ExpectedBytes(LlamaConfig cfg)
    {
        long d = cfg.Dim, hd = cfg.HiddenDim, l = cfg.NLayers, v = cfg.Vocab, kv = cfg.KvDim, qd = cfg.NHeads * cfg.HeadDim;
        long ropeHalf = cfg.HeadDim / 2;
        long floats = v * d + l * d + l * qd * d + 2 * l * kv * d + l * d * qd + l * d + 3 * l * hd * d + d
                      + 2 * cfg.MaxSeq * ropeHalf + (cfg.TiedClassifier ? 0 : v * d);
        return HeaderBytes + 4 * floats;
    }
}
