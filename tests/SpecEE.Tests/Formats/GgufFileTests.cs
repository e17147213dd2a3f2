using SpecEE.Core.Formats;

namespace SpecEE.Tests.Formats;

/// <summary>GGUF metadata parsing against llama.cpp's vocab-only fixture (GGUF v3, 0 tensors, 22 KVs, Llama-2 SPM vocab).</summary>
public class GgufFileTests
{
    private static GgufFile Vocab() => GgufFile.Open(TestPaths.Fixture("ggml-vocab-llama-spm.gguf"));

    [Test]
    public void VocabFixture_HeaderCountsAndLayout()
    {
        var g = Vocab();
        Assert.That(g.Version, Is.EqualTo(3u));
        Assert.That(g.Tensors, Is.Empty);
        Assert.That(g.Keys, Has.Count.EqualTo(22));
        Assert.That(g.Keys[0], Is.EqualTo("general.architecture"));
        Assert.That(g.Keys[^1], Is.EqualTo("tokenizer.ggml.add_eos_token"));
        Assert.That(g.Alignment, Is.EqualTo(32u));
        Assert.That(g.FileLength, Is.EqualTo(723869));
    }

    [Test]
    public void VocabFixture_ScalarValues()
    {
        var g = Vocab();
        Assert.That(g.GetString("general.architecture"), Is.EqualTo("llama"));
        Assert.That(g.GetString("tokenizer.ggml.model"), Is.EqualTo("llama"));
        Assert.That(g.GetUInt32("llama.block_count"), Is.EqualTo(32u));
        Assert.That(g.GetInt32("llama.embedding_length"), Is.EqualTo(4096));
        Assert.That(g.GetInt64("llama.feed_forward_length"), Is.EqualTo(11008));
        Assert.That(g.GetInt32("tokenizer.ggml.bos_token_id"), Is.EqualTo(1));
        Assert.That(g.GetInt32("tokenizer.ggml.eos_token_id"), Is.EqualTo(2));
        Assert.That(g.GetInt32("tokenizer.ggml.unknown_token_id"), Is.EqualTo(0));
        Assert.That(g.GetFloat("llama.attention.layer_norm_rms_epsilon"), Is.EqualTo(1e-5f));
        Assert.That(g.GetBool("tokenizer.ggml.add_bos_token"), Is.True);
        Assert.That(g.GetBool("tokenizer.ggml.add_eos_token"), Is.False);
    }

    [Test]
    public void VocabFixture_TokenArraysMatchTheLlama2Vocabulary()
    {
        var g = Vocab();
        string[] tokens = g.GetStringArray("tokenizer.ggml.tokens");
        float[] scores = g.GetFloatArray("tokenizer.ggml.scores");
        int[] types = g.GetInt32Array("tokenizer.ggml.token_type");
        Assert.That(tokens, Has.Length.EqualTo(32000));
        Assert.That(scores, Has.Length.EqualTo(32000));
        Assert.That(types, Has.Length.EqualTo(32000));
        // Known Llama-2 pieces: specials, byte fallback <0x00>.. at 3.., "▁the" is id 278.
        Assert.That(tokens[..4], Is.EqualTo(new[] { "<unk>", "<s>", "</s>", "<0x00>" }));
        Assert.That(tokens[258], Is.EqualTo("<0xFF>"));
        Assert.That(tokens[278], Is.EqualTo("\u2581the"));
        // token_type: 2 = unknown, 3 = control, 6 = byte, 1 = normal.
        Assert.That(types[..4], Is.EqualTo(new[] { 2, 3, 3, 6 }));
        Assert.That(types[278], Is.EqualTo(1));
    }

    [Test]
    public void HasMagic_LooksAtContentOnly()
    {
        Assert.That(GgufFile.HasMagic(TestPaths.Fixture("ggml-vocab-llama-spm.gguf")), Is.True);
        Assert.That(GgufFile.HasMagic(TestPaths.Fixture("tokenizer.model")), Is.False);
        string tiny = TestPaths.TempFile("short.gguf");
        File.WriteAllBytes(tiny, "GGU"u8.ToArray());
        Assert.That(GgufFile.HasMagic(tiny), Is.False);
        Assert.That(GgufFile.HasMagic(tiny + ".absent"), Is.False);
    }
}
