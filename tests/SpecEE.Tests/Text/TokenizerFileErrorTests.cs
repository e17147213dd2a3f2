using SpecEE.Core;
using SpecEE.Core.Text;

namespace SpecEE.Tests.Text;

/// <summary>Bad tokenizer files are reported as one <see cref="ModelFormatException"/> that names the file.</summary>
public class TokenizerFileErrorTests
{
    [Test]
    public void MissingFile_Throws_NamingTheFile()
    {
        string path = TestPaths.TempFile("no-such-tokenizer.model");
        var ex = Assert.Throws<ModelFormatException>(() => TextTokenizer.FromSentencePieceModel(path));
        Assert.That(ex!.Message, Does.Contain(path).And.Contain("not found"));
        Assert.Throws<ModelFormatException>(() => TextTokenizer.Load(path));
    }

    [TestCase("tokenizer.model", 0.5)]
    [TestCase("tokenizer.model", 0.999)]
    [TestCase("tok512.model", 0.3)]
    public void TruncatedModel_Throws_NamingTheFile(string fixture, double keep)
    {
        byte[] bytes = File.ReadAllBytes(TestPaths.Fixture(fixture));
        string path = TestPaths.TempFile("truncated-" + fixture);
        File.WriteAllBytes(path, bytes[..(int)(bytes.Length * keep)]);
        var ex = Assert.Throws<ModelFormatException>(() => TextTokenizer.FromSentencePieceModel(path));
        Assert.That(ex!.Message, Does.Contain(path));
    }

    [Test]
    public void ModelCutAtAPieceBoundary_Throws_Truncated()
    {
        // Walk the top-level fields (tag varint, length varint, payload) and cut right after piece 20000,
        // where the protobuf itself is still well-formed.
        byte[] bytes = File.ReadAllBytes(TestPaths.Fixture("tokenizer.model"));
        int at = 0;
        for (int piece = 0; piece < 20000; piece++)
        {
            Assert.That(bytes[at], Is.EqualTo(0x0A), "field 1 (pieces), length-delimited");
            at++;
            int len = 0, shift = 0;
            while (true) { byte b = bytes[at++]; len |= (b & 0x7F) << shift; shift += 7; if (b < 0x80) break; }
            at += len;
        }
        string path = TestPaths.TempFile("cut.model");
        File.WriteAllBytes(path, bytes[..at]);
        var ex = Assert.Throws<ModelFormatException>(() => TextTokenizer.FromSentencePieceModel(path));
        Assert.That(ex!.Message, Does.Contain(path).And.Contain("20000 pieces").And.Contain("truncated"));
    }

    [Test]
    public void EmptyFile_Throws_NoPieces()
    {
        string path = TestPaths.TempFile("empty.model");
        File.WriteAllBytes(path, []);
        var ex = Assert.Throws<ModelFormatException>(() => TextTokenizer.FromSentencePieceModel(path));
        Assert.That(ex!.Message, Does.Contain(path).And.Contain("no pieces"));
    }

    [Test]
    public void TextFileOrLlama2cTokenizer_Throws_NamingTheFile()
    {
        string text = TestPaths.TempFile("notes.model");
        File.WriteAllText(text, "this is not a protobuf file\n");
        Assert.That(Assert.Throws<ModelFormatException>(() => TextTokenizer.Load(text))!.Message, Does.Contain(text));

        // The llama2.c tokenizer export (tok512.bin layout: int32 max length, then score/len/bytes records) is another format.
        string bin = TestPaths.TempFile("tok.bin");
        using (var w = new BinaryWriter(File.Create(bin)))
        {
            w.Write(7);
            foreach (string piece in new[] { "<unk>", "\n<s>\n", "\n</s>\n" }) { w.Write(0f); w.Write(piece.Length); w.Write(System.Text.Encoding.UTF8.GetBytes(piece)); }
        }
        Assert.That(Assert.Throws<ModelFormatException>(() => TextTokenizer.Load(bin))!.Message, Does.Contain(bin));
    }

    [Test]
    public void CorruptedPieceBytes_Throws_NamingTheFile()
    {
        // Overwrite a stretch in the middle of the pieces with 0xFF: varints that never end / invalid tags.
        byte[] bytes = File.ReadAllBytes(TestPaths.Fixture("tok512.model"));
        for (int i = 2000; i < 2040; i++) bytes[i] = 0xFF;
        string path = TestPaths.TempFile("corrupt.model");
        File.WriteAllBytes(path, bytes);
        var ex = Assert.Throws<ModelFormatException>(() => TextTokenizer.FromSentencePieceModel(path));
        Assert.That(ex!.Message, Does.Contain(path));
    }

    [Test]
    public void ModelWithoutBytePieces_ButByteFallback_Throws()
    {
        // Hand-built model: byte_fallback on, but no <0xNN> pieces.
        var m = new SentencePieceModelProto { ModelType = SentencePieceModelProto.ModelTypeBpe, ByteFallback = true };
        m.Pieces.Add(new("<unk>", 0, PieceType.Unknown));
        m.Pieces.Add(new("<s>", 0, PieceType.Control));
        m.Pieces.Add(new("</s>", 0, PieceType.Control));
        m.Pieces.Add(new("▁a", -1, PieceType.Normal));
        string path = TestPaths.TempFile("nobytes.model");
        File.WriteAllBytes(path, m.ToBytes());
        var ex = Assert.Throws<ModelFormatException>(() => TextTokenizer.FromSentencePieceModel(path));
        Assert.That(ex!.Message, Does.Contain(path).And.Contain("<0x00>"));
    }

    [Test]
    public void HandBuiltModel_WrittenByProtoWriter_EncodesWithTheLibrary()
    {
        // A tiny BPE vocabulary written by our ModelProto writer (the GGUF path uses the same writer):
        // "ab" wins over "bc" by score, so "abc" → ▁ab c; "x" is not in the vocabulary → byte piece <0x78>.
        var m = new SentencePieceModelProto { ModelType = SentencePieceModelProto.ModelTypeBpe, ByteFallback = true, RemoveExtraWhitespaces = false };
        m.Pieces.Add(new("<unk>", 0, PieceType.Unknown));
        m.Pieces.Add(new("<s>", 0, PieceType.Control));
        m.Pieces.Add(new("</s>", 0, PieceType.Control));
        for (int b = 0; b < 256; b++) m.Pieces.Add(new($"<0x{b:X2}>", 0, PieceType.Byte));
        string[] normal = ["▁", "a", "b", "c", "ab", "bc", "▁ab"];
        float[] scores = [-1, -2, -3, -4, -5, -6, -7];
        for (int i = 0; i < normal.Length; i++) m.Pieces.Add(new(normal[i], scores[i], PieceType.Normal));
        string path = TestPaths.TempFile("tiny.model");
        File.WriteAllBytes(path, m.ToBytes());

        var tok = TextTokenizer.FromSentencePieceModel(path);
        int Id(string piece) => 259 + Array.IndexOf(normal, piece);
        Assert.That(tok.Encode("abc", addBos: true), Is.EqualTo(new[] { 1, Id("▁ab"), Id("c") }));
        Assert.That(tok.Encode("x", addBos: false), Is.EqualTo(new[] { Id("▁"), 3 + 'x' }));
        Assert.That(tok.Decode(tok.Encode("abc x", addBos: true)), Is.EqualTo("abc x"));
    }
}
