using System.Buffers.Binary;
using System.Text.Json;
using SpecEE.Core.Formats;

namespace SpecEE.Tests.Formats;

public class ModelLoaderTests
{
    private readonly FormatTestFiles _files = new();

    [TearDown]
    public void TearDown() => _files.Cleanup();

    [Test]
    public void Stories260K_LoadsTiedFiveLayersWithItsHeader()
    {
        string path = TestPaths.Fixture("stories260K.bin");
        var model = ModelLoader.Load(path);
        var c = model.Config;
        // Header values from the fixture README: dim=64, hidden_dim=172, n_layers=5, n_heads=8, n_kv_heads=4, vocab=512, seq_len=512.
        Assert.Multiple(() =>
        {
            Assert.That((c.Dim, c.HiddenDim, c.NLayers, c.NHeads, c.NKvHeads, c.Vocab, c.MaxSeq),
                Is.EqualTo((64, 172, 5, 8, 4, 512, 512)));
            Assert.That(c.TiedClassifier, Is.True);
            Assert.That(model.Weights.Classifier, Is.SameAs(model.Weights.TokenEmbedding));
            Assert.That(model.Format, Is.EqualTo("llama2c"));
            Assert.That(model.SourcePath, Is.EqualTo(path));
            // First embedding value straight from the bytes after the 28-byte header.
            Assert.That(model.Weights.TokenEmbedding[0], Is.EqualTo(BitConverter.ToSingle(File.ReadAllBytes(path), 28)));
        });
    }

    [Test]
    public void Stories260K_LogitsMatchNumpyReference()
    {
        var model = ModelLoader.Load(TestPaths.Fixture("stories260K.bin"));
        using var reference = JsonDocument.Parse(File.ReadAllText(TestPaths.Fixture("stories260K_reference.json")));
        HfLlamaReaderTests.AssertLogitsMatch(model, reference.RootElement);
    }

    [Test]
    public void Llama2c_IsRecognisedByContentWhateverItsName()
    {
        string path = _files.Write("weights.dat", File.ReadAllBytes(TestPaths.Fixture("stories260K.bin")));
        Assert.That(ModelLoader.Load(path).Config.NLayers, Is.EqualTo(5));
    }

    [Test]
    public void HfCheckpoint_LoadsFromDirectoryFromSafetensorsFileAndFromConfigJson()
    {
        string dir = TestPaths.DefaultModelDir;
        var fromDir = ModelLoader.Load(dir);
        var fromWeights = ModelLoader.Load(Path.Combine(dir, "model.safetensors"));
        var fromConfig = ModelLoader.Load(Path.Combine(dir, "config.json"));
        Assert.That(fromWeights.Config, Is.EqualTo(fromDir.Config));
        Assert.That(fromConfig.Config, Is.EqualTo(fromDir.Config));
        HfLlamaReaderTests.AssertSameValues(fromWeights.Weights.Layers[2].Wk, fromDir.Weights.Layers[2].Wk, "layer 2 wk");
    }

    [Test]
    public void Safetensors_IsRecognisedByContentWhateverItsName()
    {
        string dir = _files.CopyHfModel();
        string renamed = Path.Combine(dir, "weights.st");
        File.Move(Path.Combine(dir, "model.safetensors"), renamed);
        var model = ModelLoader.Load(renamed);
        Assert.That(model.Config.NLayers, Is.EqualTo(16));
        Assert.That(model.SourcePath, Is.EqualTo(renamed));
    }

    [Test]
    public void Gguf_IsRecognisedByMagicWhateverItsName_AndMatchesTheHfConfig()
    {
        string path = _files.Write("weights.bin", File.ReadAllBytes(TestPaths.Fixture("tinystories-16L-q8_0.gguf")));
        var model = ModelLoader.Load(path);
        Assert.That(model.Format, Is.EqualTo("gguf"));
        Assert.That(model.Config with { MaxSeq = 0 }, Is.EqualTo(ModelLoader.Load(TestPaths.DefaultModelDir).Config with { MaxSeq = 0 }));
    }

    [Test]
    public void Gguf_DamagedMagic_StillReportedByTheGgufReader()
    {
        var bytes = File.ReadAllBytes(TestPaths.Fixture("tinystories-16L-q8_0.gguf"));
        bytes[0] = (byte)'X';
        string path = _files.Write("model.gguf", bytes);
        var e = Assert.Throws<Core.ModelFormatException>(() => ModelLoader.Load(path))!;
        Assert.That(e.Message, Does.StartWith(path).And.Contain("GGUF"));
    }

    [Test]
    public void Gguf_VocabularyOnlyFile_IsNotAModel()
    {
        string path = TestPaths.Fixture("ggml-vocab-llama-spm.gguf");
        var e = Assert.Throws<Core.ModelFormatException>(() => ModelLoader.Load(path))!;
        Assert.That(e.Message, Does.StartWith(path).And.Contain("no tensors"));
    }

    [Test]
    public void FindTokenizer_Llama2cCustomVocab_PrefersTokVocabModelOverTokenizerModel()
    {
        // tests/fixtures holds both tok512.model and the 32000-piece tokenizer.model; stories260K has vocab 512.
        string found = ModelLoader.FindTokenizer(TestPaths.Fixture("stories260K.bin"))!;
        Assert.That(Path.GetFileName(found), Is.EqualTo("tok512.model"));
        Assert.That(File.Exists(found), Is.True);
    }

    [Test]
    public void FindTokenizer_Llama2cWithOnlyTokenizerModelBeside_UsesIt()
    {
        string bin = _files.Write("stories260K.bin", File.ReadAllBytes(TestPaths.Fixture("stories260K.bin")));
        Assert.That(ModelLoader.FindTokenizer(bin), Is.Null);
        string tok = Path.Combine(Path.GetDirectoryName(bin)!, "tokenizer.model");
        File.Copy(TestPaths.Fixture("tok512.model"), tok);
        Assert.That(ModelLoader.FindTokenizer(bin), Is.EqualTo(tok));
    }

    [Test]
    public void FindTokenizer_HfCheckpoint_FindsTokenizerModelFromDirOrFile()
    {
        string expected = Path.Combine(TestPaths.DefaultModelDir, "tokenizer.model");
        Assert.That(ModelLoader.FindTokenizer(TestPaths.DefaultModelDir), Is.EqualTo(expected));
        Assert.That(Path.GetFullPath(ModelLoader.FindTokenizer(Path.Combine(TestPaths.DefaultModelDir, "model.safetensors"))!),
            Is.EqualTo(Path.GetFullPath(expected)));
    }

    [Test]
    public void FindTokenizer_Gguf_ReturnsTheGgufItselfEvenBesideTokenizerModel()
    {
        // The fixture folder's tokenizer.model is Llama-2's 32000 pieces; the GGUF embeds its own 512-piece vocabulary.
        string gguf = TestPaths.Fixture("tinystories-16L-q8_0.gguf");
        Assert.That(File.Exists(Path.Combine(Path.GetDirectoryName(gguf)!, "tokenizer.model")), Is.True);
        Assert.That(ModelLoader.FindTokenizer(gguf), Is.EqualTo(gguf));
        string renamed = _files.Write("m.bin", File.ReadAllBytes(TestPaths.Fixture("ggml-vocab-llama-spm.gguf")));
        Assert.That(ModelLoader.FindTokenizer(renamed), Is.EqualTo(renamed), "recognised by its magic");
    }

    [Test]
    public void FindTokenizer_NothingThere_ReturnsNull()
    {
        Assert.That(ModelLoader.FindTokenizer(_files.NewPath("absent.bin")), Is.Null);
        string empty = Path.GetDirectoryName(_files.NewPath("x"))!;
        Assert.That(ModelLoader.FindTokenizer(empty), Is.Null);
    }

    [Test]
    public void UnknownFormat_ListsAcceptedFormats()
    {
        var bytes = new byte[64];
        BinaryPrimitives.WriteInt32LittleEndian(bytes, 0x12345678);
        string path = _files.Write("mystery.dat", bytes);
        var e = Assert.Throws<Core.ModelFormatException>(() => ModelLoader.Load(path))!;
        Assert.That(e.Message, Does.StartWith(path).And.Contain("unknown model format")
            .And.Contain("GGUF").And.Contain("llama2.c").And.Contain("config.json + model.safetensors"));
    }
}
