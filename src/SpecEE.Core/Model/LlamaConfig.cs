namespace SpecEE.Core.Model;

/// <summary>
/// Shape and numerics of a Llama decoder. Names follow the README glossary:
/// dim, hiddenDim, nLayers, nHeads, nKvHeads, headDim, vocab, maxSeq.
/// </summary>
/// <remarks>
/// There is no RoPE-layout field on purpose: every reader converts Q/K rows to the
/// interleaved-pair convention (Meta / llama2.c / GGUF order) at load time, so backends implement one RoPE.
/// </remarks>
public sealed record LlamaConfig
{
    public required int Dim { get; init; }
    public required int HiddenDim { get; init; }
    public required int NLayers { get; init; }
    public required int NHeads { get; init; }
    public required int NKvHeads { get; init; }
    public required int Vocab { get; init; }
    public required int MaxSeq { get; init; }
    public float NormEps { get; init; } = 1e-5f;
    public float RopeTheta { get; init; } = 10000f;
    public bool TiedClassifier { get; init; }
    public int BosId { get; init; } = 1;
    public int EosId { get; init; } = 2;

    public int HeadDim => Dim / NHeads;
    /// <summary>Width of one K or V row: nKvHeads · headDim.</summary>
    public int KvDim => NKvHeads * HeadDim;
    /// <summary>Query heads that share one KV head (GQA group size).</summary>
    public int GqaGroup => NHeads / NKvHeads;

    /// <summary>Throws <see cref="ModelFormatException"/> naming <paramref name="source"/> when the shape is not a valid Llama.</summary>
    public void Validate(string source)
    {
        void Require(bool ok, string what)
        {
            if (!ok) throw new ModelFormatException($"{source}: invalid model config: {what} ({this.Describe()})");
        }
        Require(Dim > 0 && HiddenDim > 0 && NLayers > 0 && NHeads > 0 && NKvHeads > 0 && Vocab > 0 && MaxSeq > 0,
            "every dimension must be positive");
        Require(Dim % NHeads == 0, "dim must be a multiple of nHeads");
        Require(NHeads % NKvHeads == 0, "nHeads must be a multiple of nKvHeads");
        Require(HeadDim % 2 == 0, "headDim must be even for RoPE");
        Require(Dim <= 1 << 16 && HiddenDim <= 1 << 18 && NLayers <= 1024 && Vocab <= 1 << 22 && MaxSeq <= 1 << 20,
            "a dimension is implausibly large");
        Require(NormEps > 0 && float.IsFinite(NormEps), "normEps must be positive");
        Require(RopeTheta > 0 && float.IsFinite(RopeTheta), "ropeTheta must be positive");
    }

    public string Describe() =>
        $"dim={Dim} hiddenDim={HiddenDim} nLayers={NLayers} nHeads={NHeads} nKvHeads={NKvHeads} vocab={Vocab} maxSeq={MaxSeq}";
}
