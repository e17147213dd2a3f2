using System.Buffers.Binary;
using System.Text;
using SpecEE.Core;
using SpecEE.Core.Formats;

namespace SpecEE.Tests.Formats;

/// <summary>
/// Damaged copies of the real tinystories-16L Q8_0 GGUF (truncated, patched header, metadata and tensor infos):
/// each must fail with one <see cref="ModelFormatException"/> that names the file and what was expected.
/// Patch positions are found by searching the bytes for the length-prefixed key or tensor name, not by our parser.
/// </summary>
public class GgufBadInputTests
{
    private static byte[]? _original;
    private static byte[] Original => _original ??= File.ReadAllBytes(TestPaths.Fixture("tinystories-16L-q8_0.gguf"));

    private static byte[] Copy() => (byte[])Original.Clone();

    /// <summary>Offset just after a length-prefixed string (a metadata key or tensor name) in the header.</summary>
    private static int After(byte[] b, string s)
    {
        byte[] needle = [.. BitConverter.GetBytes((ulong)Encoding.UTF8.GetByteCount(s)), .. Encoding.UTF8.GetBytes(s)];
        int at = b.AsSpan().IndexOf(needle);
        Assert.That(at, Is.GreaterThanOrEqualTo(0), $"'{s}' not found in the fixture");
        return at + needle.Length;
    }

    /// <summary>Writes <paramref name="bytes"/> to a temp file, loads it as a model and returns the error message.</summary>
    private static string LoadError(byte[] bytes, string fileName = "damaged.gguf")
    {
        string path = TestPaths.TempFile(fileName);
        try
        {
            File.WriteAllBytes(path, bytes);
            var e = Assert.Throws<ModelFormatException>(() => GgufLlamaReader.Load(path))!;
            Assert.That(e.Message, Does.StartWith(path + ": "), "the message names the file");
            return e.Message;
        }
        finally { Directory.Delete(Path.GetDirectoryName(path)!, recursive: true); } // 3.4 MB per case
    }

    private static void PatchU32(byte[] b, int at, uint v) => BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(at), v);
    private static void PatchU64(byte[] b, int at, ulong v) => BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(at), v);

    [Test]
    public void Truncated_InsideEachRegion_SaysTruncatedAndWhere()
    {
        var data = GgufFile.Open(TestPaths.Fixture("tinystories-16L-q8_0.gguf"));
        int tokens = After(Original, "tokenizer.ggml.tokens");
        int scores = After(Original, "tokenizer.ggml.scores");
        int firstInfo = After(Original, "token_embd.weight");
        int infosEnd = After(Original, "output.weight") + 4 + 2 * 8 + 4 + 8; // n_dims, ne[2], type, offset
        var cases = new (long Length, string Expect)[]
        {
            (2, "too short for the \"GGUF\" magic"),
            (6, "version needs 4 bytes at offset 4"),
            (13, "tensor_count needs 8 bytes at offset 8"),
            // Counts are checked against the bytes left before anything is read: 147 infos need ≥ 3528 bytes.
            (30, "tensor_count is 147 at offset 8, but at 24 bytes each that cannot fit in the 14 bytes left"),
            (tokens + 5000, "metadata 'tokenizer.ggml.tokens'["),             // inside the 512 token strings
            (scores + 30, "length of metadata 'tokenizer.ggml.scores' is 512"), // inside the float array
            (firstInfo + 10, "of tensor 'token_embd.weight'"),                // inside the first tensor info
            (infosEnd - 4, "data offset of tensor 'output.weight' needs 8 bytes"), // inside the last tensor info
            (infosEnd, "tensor 'token_embd.weight' Q8_0[512, 128] needs 69632 bytes at data offset 0, but the data section (from file offset 20160) holds only 0 bytes"),
            (data.DataStart + 1000, "tensor 'token_embd.weight' Q8_0[512, 128] needs 69632 bytes"),
            (Original.Length - 1, "tensor 'output.weight' Q8_0[512, 128] needs 69632 bytes"),
        };
        foreach (var (length, expect) in cases)
        {
            string message = LoadError(Original[..(int)length], $"cut-{length}.gguf");
            Assert.That(message, Does.Contain(expect).And.Contain(length < 4 ? "not a GGUF file" : "truncated"), $"cut at {length}");
        }
    }

    [Test]
    public void FlippedMagic_IsNotAGgufFile()
    {
        var b = Copy();
        b[0] ^= 0xFF;
        Assert.That(LoadError(b), Does.Contain("not a GGUF file: the first 4 bytes are b8 47 55 46, expected \"GGUF\""));
    }

    [Test]
    public void Version99_IsUnsupported()
    {
        var b = Copy();
        PatchU32(b, 4, 99);
        Assert.That(LoadError(b), Does.EndWith("unsupported GGUF version 99, expected 2 or 3"));
    }

    [TestCase(8, 1UL << 40, "tensor_count is 1099511627776 at offset 8")]
    [TestCase(16, ulong.MaxValue, "metadata kv_count is 18446744073709551615 at offset 16")]
    [TestCase(24, 1UL << 60, "metadata key #0 at offset 24 claims 1152921504606846976 bytes")]
    public void AbsurdCountOrLength_InHeader_IsRejectedBeforeAllocating(int at, ulong value, string expect)
    {
        var b = Copy();
        PatchU64(b, at, value);
        Assert.That(LoadError(b), Does.Contain(expect));
    }

    [Test]
    public void AbsurdStringLength_InsideAnArray_NamesTheElement()
    {
        var b = Copy();
        int tokens = After(b, "tokenizer.ggml.tokens");
        // value type (u32) + element type (u32) + count (u64), then strings "<unk>", "<s>", "</s>", ...
        int firstString = tokens + 4 + 4 + 8;
        int third = firstString + (8 + 5) + (8 + 3);
        Assert.That(Encoding.UTF8.GetString(b, third + 8, 4), Is.EqualTo("</s>"), "patch position");
        PatchU64(b, third, 1UL << 60);
        Assert.That(LoadError(b), Does.Contain("metadata 'tokenizer.ggml.tokens'[2] at offset").And.Contain("claims 1152921504606846976 bytes"));
    }

    [TestCase(1UL << 62, "length of metadata 'tokenizer.ggml.tokens' is 4611686018427387904")]
    [TestCase(3_000_000UL, "length of metadata 'tokenizer.ggml.tokens' is 3000000")]
    [TestCase(513UL, "")] // plausible but wrong: the parser desyncs; any clean ModelFormatException is right
    public void WrongArrayLength_IsRejected(ulong count, string expect)
    {
        var b = Copy();
        int countAt = After(b, "tokenizer.ggml.tokens") + 4 + 4;
        Assert.That(BinaryPrimitives.ReadUInt64LittleEndian(b.AsSpan(countAt)), Is.EqualTo(512UL), "patch position");
        PatchU64(b, countAt, count);
        Assert.That(LoadError(b), Does.Contain(expect));
    }

    [Test]
    public void BlockCountTooSmall_LeavesTensorsUnused()
    {
        var b = Copy();
        PatchU32(b, After(b, "llama.block_count") + 4, 15);
        Assert.That(LoadError(b), Does.Contain("tensor 'blk.15.attn_norm.weight' (and 8 more) is not part of a llama model with llama.block_count = 15"));
    }

    [Test]
    public void BlockCountTooLarge_MissesATensor()
    {
        var b = Copy();
        PatchU32(b, After(b, "llama.block_count") + 4, 17);
        Assert.That(LoadError(b), Does.EndWith(": tensor 'blk.16.attn_norm.weight' is missing"));
    }

    [Test]
    public void EmbeddingLengthChanged_DisagreesWithTheEmbeddingShape()
    {
        var b = Copy();
        PatchU32(b, After(b, "llama.embedding_length") + 4, 256);
        Assert.That(LoadError(b), Does.Contain("tensor 'token_embd.weight' has shape [512, 128], expected [vocab, 256] (llama.embedding_length = 256)"));
    }

    [Test]
    public void HeadCountChanged_DisagreesWithRopeDimensionCount()
    {
        var b = Copy();
        PatchU32(b, After(b, "llama.attention.head_count") + 4, 8); // headDim 16, but rope.dimension_count = 32
        Assert.That(LoadError(b), Does.Contain("llama.rope.dimension_count is 32, expected the head dimension 16"));
    }

    [Test]
    public void TensorWithWrongDims_NamesTensorAndExpectedShape()
    {
        var b = Copy();
        int at = After(b, "blk.3.attn_k.weight");
        Assert.That(BinaryPrimitives.ReadUInt32LittleEndian(b.AsSpan(at)), Is.EqualTo(2u), "n_dims");
        PatchU64(b, at + 4 + 8, 32); // ne[1] 64 → 32 rows (a smaller tensor still inside the data)
        Assert.That(LoadError(b), Does.Contain("tensor 'blk.3.attn_k.weight' has shape [32, 128] (ggml ne [128, 32]), expected [64, 128]"));
    }

    [Test]
    public void TensorOffsetMisaligned_OrOutsideTheData()
    {
        var b = Copy();
        int offsetAt = After(b, "output.weight") + 4 + 2 * 8 + 4;
        ulong offset = BinaryPrimitives.ReadUInt64LittleEndian(b.AsSpan(offsetAt));
        PatchU64(b, offsetAt, offset + 4);
        Assert.That(LoadError(b), Does.Contain($"tensor 'output.weight' data offset {offset + 4} is not a multiple of the alignment 32"));
        PatchU64(b, offsetAt, 1UL << 50);
        Assert.That(LoadError(b), Does.Contain("tensor 'output.weight' Q8_0[512, 128] needs 69632 bytes at data offset 1125899906842624"));
    }

    [Test]
    public void ArchitectureOtherThanLlama_IsRejected()
    {
        var b = Copy();
        int at = After(b, "general.architecture") + 4 + 8;
        Encoding.ASCII.GetBytes("qwen2"[..5]).CopyTo(b, at); // "llama" → "qwen2", same length
        Assert.That(LoadError(b), Does.EndWith("GGUF architecture is \"qwen2\", expected \"llama\" (only Llama models are supported)"));
    }

    [Test]
    public void VocabOnlyGguf_IsNotAModel()
    {
        byte[] vocab = File.ReadAllBytes(TestPaths.Fixture("ggml-vocab-llama-spm.gguf"));
        Assert.That(LoadError(vocab), Does.Contain("holds no tensors"));
    }

    [Test]
    public void RandomByteCorruption_InTheHeader_NeverEscapesAsAnotherException()
    {
        // Seeded: 200 copies with 1-3 random bytes changed anywhere before the data section must either
        // parse (the bytes were inside a string or a value) or fail with ModelFormatException, nothing else.
        var rng = new Random(1234);
        long dataStart = GgufFile.Parse("q8", Original).DataStart;
        int rejected = 0;
        for (int trial = 0; trial < 200; trial++)
        {
            var b = Copy();
            for (int k = rng.Next(1, 4); k > 0; k--) b[rng.Next((int)dataStart)] = (byte)rng.Next(256);
            try
            {
                GgufFile.Parse($"trial{trial}.gguf", b);
            }
            catch (ModelFormatException e)
            {
                Assert.That(e.Message, Does.StartWith($"trial{trial}.gguf: "));
                rejected++;
            }
        }
        Assert.That(rejected, Is.GreaterThan(0), "some corruptions must be detected");
    }
}
