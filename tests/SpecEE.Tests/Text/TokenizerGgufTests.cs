using System.Text;
using System.Text.Json;
using SpecEE.Core;
using SpecEE.Core.Formats;
using SpecEE.Core.Text;

namespace SpecEE.Tests.Text;

/// <summary>Tokenizers built from a GGUF's embedded vocabulary (tokenizer.ggml.*), against the .model files and the references.</summary>
public class TokenizerGgufTests
{
    [Test]
    public void Llama2Gguf_HasTheSamePiecesAndSpecialIds_AsTokenizerModel()
    {
        TextTokenizer gguf = TokenizerFixtures.Llama2Gguf, model = TokenizerFixtures.Llama2;
        Assert.That((gguf.VocabSize, gguf.BosId, gguf.EosId, gguf.UnkId), Is.EqualTo((model.VocabSize, model.BosId, model.EosId, model.UnkId)));
        Assert.That(gguf.AddBosByDefault, Is.True, "tokenizer.ggml.add_bos_token");
        Assert.That(gguf.RemovesExtraWhitespace, Is.False);
        for (int id = 0; id < model.VocabSize; id++)
            Assert.That(gguf.PieceOf(id), Is.EqualTo(model.PieceOf(id)), $"id {id}");
    }

    [Test]
    public void Llama2Gguf_RoundTripsValidHeadChunks_Exactly()
    {
        var tok = TokenizerFixtures.Llama2Gguf;
        foreach (string chunk in TokenizerFixtures.ValidHeadChunks().Take(600))
        {
            int[] ids = tok.Encode(chunk, addBos: true);
            Assert.That(ids[0], Is.EqualTo(1));
            Assert.That(tok.Decode(ids), Is.EqualTo(chunk));
            Assert.That(TokenizerDecodeTests.StreamDecode(tok, ids), Is.EqualTo(chunk));
        }
    }

    [Test]
    public void TinyStories16LGguf_PromptAndGreedyText_MatchReference()
    {
        using var json = JsonDocument.Parse(File.ReadAllText(TestPaths.Fixture("tinystories-16L_reference.json")));
        var root = json.RootElement;
        int[] promptIds = root.GetProperty("prompt_ids_with_bos").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        int[] greedy = root.GetProperty("greedy_128_ids").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        var tok = TokenizerFixtures.Tiny16LGguf;
        Assert.That(tok.VocabSize, Is.EqualTo(512));
        Assert.That(tok.Encode(root.GetProperty("prompt_text").GetString()!, addBos: true), Is.EqualTo(promptIds));
        Assert.That(tok.Decode(promptIds.Concat(greedy)), Is.EqualTo(root.GetProperty("greedy_128_text").GetString()));
        for (int id = 0; id < 512; id++)
            Assert.That(tok.PieceOf(id), Is.EqualTo(TokenizerFixtures.Tok512.PieceOf(id)), $"id {id}");
    }

    [Test]
    public void TinyStories16LGguf_KeepsExtraSpaces_WhereTok512ModelRemovesThem()
    {
        // GGUF carries no normalizer spec; llama.cpp keeps spaces as they are unless
        // tokenizer.ggml.remove_extra_whitespaces says otherwise, while tok512.model removes extra spaces.
        const string text = "Hi  there ";
        Assert.That(TokenizerFixtures.Tiny16LGguf.RemovesExtraWhitespace, Is.False);
        Assert.That(TokenizerFixtures.Tiny16LGguf.Decode(TokenizerFixtures.Tiny16LGguf.Encode(text, false)), Is.EqualTo(text));
        Assert.That(TokenizerFixtures.Tok512.Decode(TokenizerFixtures.Tok512.Encode(text, false)), Is.EqualTo("Hi there"));
        // Without extra spaces both give the same ids.
        Assert.That(TokenizerFixtures.Tiny16LGguf.Encode("Hi there", true), Is.EqualTo(TokenizerFixtures.Tok512.Encode("Hi there", true)));
    }

    [Test]
    public void Load_DispatchesOnContent_NotExtension()
    {
        string path = TestPaths.TempFile("vocab.bin");
        File.Copy(TestPaths.Fixture("ggml-vocab-llama-spm.gguf"), path);
        var tok = TextTokenizer.Load(path);
        Assert.That(tok.Source, Is.EqualTo(path));
        Assert.That(tok.Encode("Hello world", addBos: true), Is.EqualTo(new[] { 1, 15043, 3186 }));
        Assert.That(TextTokenizer.Load(TestPaths.Fixture("tok512.model")).VocabSize, Is.EqualTo(512));
    }

    [Test]
    public void GgufWithGpt2Vocabulary_Throws_NamingTheFile()
    {
        var ex = Assert.Throws<ModelFormatException>(() => FromKvs("gpt2.gguf", ("tokenizer.ggml.model", "gpt2"), ("tokenizer.ggml.tokens", new[] { "a", "b" })));
        Assert.That(ex!.Message, Does.Contain("gpt2.gguf").And.Contain("'gpt2'"));
    }

    [Test]
    public void GgufWithoutTokenizer_Throws_NamingTheFile()
    {
        var ex = Assert.Throws<ModelFormatException>(() => FromKvs("weights-only.gguf", ("general.architecture", "llama")));
        Assert.That(ex!.Message, Does.Contain("weights-only.gguf").And.Contain("tokenizer.ggml.model"));
    }

    [Test]
    public void GgufWithMismatchedScores_Throws_NamingTheFile()
    {
        var ex = Assert.Throws<ModelFormatException>(() => FromKvs("bad-scores.gguf", ("tokenizer.ggml.model", "llama"),
            ("tokenizer.ggml.tokens", new[] { "<unk>", "<s>", "</s>", "▁a" }), ("tokenizer.ggml.scores", new[] { 0f, 0f })));
        Assert.That(ex!.Message, Does.Contain("bad-scores.gguf").And.Contain("2 entries").And.Contain("has 4"));
    }

    [Test]
    public void GgufWithBosIdOutsideVocabulary_Throws_NamingTheFile()
    {
        var ex = Assert.Throws<ModelFormatException>(() => FromKvs("bad-bos.gguf", ("tokenizer.ggml.model", "llama"),
            ("tokenizer.ggml.tokens", new[] { "<unk>", "<s>", "</s>", "▁a" }), ("tokenizer.ggml.token_type", new[] { 2, 3, 3, 1 }),
            ("tokenizer.ggml.bos_token_id", 7u)));
        Assert.That(ex!.Message, Does.Contain("bad-bos.gguf").And.Contain("bos_id 7"));
    }

    /// <summary>Writes a tensor-less GGUF v3 file with the given metadata (string, uint32, string[], float[], int32[]) and parses its vocabulary.</summary>
    private static TextTokenizer FromKvs(string name, params (string Key, object Value)[] kvs)
    {
        using var ms = new MemoryStream();
        using (var w = new BinaryWriter(ms, Encoding.UTF8, leaveOpen: true))
        {
            void Str(string s) { byte[] b = Encoding.UTF8.GetBytes(s); w.Write((ulong)b.Length); w.Write(b); }
            w.Write("GGUF"u8); w.Write(3u); w.Write(0ul); w.Write((ulong)kvs.Length);
            foreach (var (key, value) in kvs)
            {
                Str(key);
                switch (value)
                {
                    case string s: w.Write(8u); Str(s); break;
                    case uint u: w.Write(4u); w.Write(u); break;
                    case string[] a: w.Write(9u); w.Write(8u); w.Write((ulong)a.Length); foreach (var s in a) Str(s); break;
                    case float[] a: w.Write(9u); w.Write(6u); w.Write((ulong)a.Length); foreach (var f in a) w.Write(f); break;
                    case int[] a: w.Write(9u); w.Write(5u); w.Write((ulong)a.Length); foreach (var i in a) w.Write(i); break;
                    default: throw new ArgumentException(value.GetType().Name);
                }
            }
            while (ms.Length % 32 != 0) w.Write((byte)0);
        }
        return TextTokenizer.FromGguf(GgufFile.Parse(name, ms.ToArray()));
    }
}
