using System.Buffers.Binary;
using SpecEE.Core;
using SpecEE.Core.Formats;

namespace SpecEE.Tests.Formats;

/// <summary>
/// Corrupted copies of stories260K.bin through <see cref="ModelLoader.Load"/>: each must fail with a
/// <see cref="ModelFormatException"/> (exactly that type) whose message starts with the file and says what is wrong.
/// </summary>
public class Llama2cBadInputTests
{
    private const int FileBytes = 1_056_540; // from the fixture README
    private readonly FormatTestFiles _files = new();

    [TearDown]
    public void TearDown() => _files.Cleanup();

    private static byte[] Original() => File.ReadAllBytes(TestPaths.Fixture("stories260K.bin"));

    private ModelFormatException LoadFails(byte[] bytes, string name = "stories260K.bin")
    {
        string path = _files.Write(name, bytes);
        var e = Assert.Throws<ModelFormatException>(() => ModelLoader.Load(path))!;
        Assert.That(e.Message, Does.StartWith(path), "the message must name the file first");
        return e;
    }

    [Test]
    public void FileOverTwoGiB_IsReadPastItsSizeChecks_AndATensorTooBigForAnArrayIsNamed()
    {
        // dim 65536, 1 layer, vocab 40000: the embedding alone is 2.6 G floats, more than one .NET array holds. The file
        // is sparse (only the header is written), so it costs no disk; a reader that slurps the file (File.ReadAllBytes)
        // stops at 2 GiB with an unrelated error, this one must reach the tensor and say what is wrong with it.
        int[] header = [65536, 4, 1, 1, 1, 40000, 8];
        var bytes = new byte[28];
        for (int i = 0; i < 7; i++) BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(4 * i), header[i]);
        long d = 65536, v = 40000, hd = 4;
        long floats = v * d + d + d * d + 2 * d * d + d * d + d + 3 * hd * d + d + 2 * 8 * (d / 2);
        string path = _files.Write("huge.bin", bytes);
        try
        {
            using (var f = new FileStream(path, FileMode.Open)) f.SetLength(28 + 4 * floats);
        }
        catch (IOException e) { Assert.Ignore($"this file system cannot hold a sparse {28 + 4 * floats}-byte file: {e.Message}"); }

        var error = Assert.Throws<ModelFormatException>(() => ModelLoader.Load(path))!;
        Assert.That(error.Message, Is.EqualTo($"{path}: a tensor of {v * d} floats is larger than one array can hold"));
    }

    [Test]
    public void FixtureHasTheDocumentedSize() => Assert.That(Original(), Has.Length.EqualTo(FileBytes));

    [TestCase(1, "truncated llama2.c checkpoint: 1 bytes")]
    [TestCase(13, "the header alone needs 28")]      // inside the header
    [TestCase(28, "(truncated file)")]               // header only
    [TestCase(500_000, "(truncated file)")]          // mid-data
    [TestCase(FileBytes - 1, "(truncated file)")]    // last byte missing
    public void Truncated(int keep, string expected)
    {
        var e = LoadFails(Original()[..keep]);
        Assert.That(e.Message, Does.Contain(expected));
        if (keep >= 28) Assert.That(e.Message, Does.Contain($"has {keep} bytes").And.Contain($"needs exactly {FileBytes}"));
    }

    [Test]
    public void EmptyFile() =>
        Assert.That(LoadFails([]).Message, Does.Contain("empty file (0 bytes)"));

    [Test]
    public void TrailingByte() =>
        Assert.That(LoadFails([.. Original(), 0]).Message, Does.Contain("trailing bytes or wrong header"));

    // Header fields: 0 dim, 1 hiddenDim, 2 nLayers, 3 nHeads, 4 nKvHeads, 5 vocab, 6 maxSeq.
    [TestCase(0, 65, "dim must be a multiple of nHeads")]
    [TestCase(0, 0, "every dimension must be positive")]
    [TestCase(2, -5, "every dimension must be positive")]
    [TestCase(2, int.MaxValue, "implausibly large")]
    [TestCase(3, 7, "dim must be a multiple of nHeads")]
    [TestCase(4, 3, "nHeads must be a multiple of nKvHeads")]
    [TestCase(5, int.MinValue, "every dimension must be positive")] // |int.MinValue| overflows: was an OverflowException
    [TestCase(5, -512, "untied classifier")]                         // sign flip: an untied classifier would follow
    [TestCase(6, 513, "needs exactly")]                               // one more RoPE table row than the file holds
    [TestCase(1, 173, "(truncated file)")]
    public void HeaderFieldCorrupted(int field, int value, string expected)
    {
        var bytes = Original();
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(4 * field), value);
        Assert.That(LoadFails(bytes).Message, Does.Contain(expected));
    }

    [Test]
    public void HeaderByteFlipped()
    {
        var bytes = Original();
        bytes[8] ^= 0xFF; // n_layers 5 → 250
        Assert.That(LoadFails(bytes).Message, Does.Contain("nLayers=250").And.Contain("(truncated file)"));
    }

    [Test]
    public void VersionedExport_IsNamedAsUnsupported()
    {
        var bytes = Original();
        BinaryPrimitives.WriteUInt32LittleEndian(bytes, 0x616b3432); // llama2.c export.py magic "ak42"
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(4), 2);
        Assert.That(LoadFails(bytes).Message, Does.Contain("export version 2 is not supported"));
    }

    [Test]
    public void NaNInAWeight_NamesTheTensor()
    {
        var bytes = Original();
        // After the header: token_embedding [512×64], rms_att [5×64], then wq [5×64×64]; poison wq of layer 2.
        int offset = 28 + 4 * (512 * 64 + 5 * 64 + 2 * 64 * 64 + 100);
        BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(offset), float.NaN);
        Assert.That(LoadFails(bytes).Message, Does.Contain("layer 2 wq holds a non-finite value at element 100"));
    }

    [Test]
    public void InfinityInTheEmbedding_NamesTheTensor()
    {
        var bytes = Original();
        BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(28 + 4 * 7), float.PositiveInfinity);
        Assert.That(LoadFails(bytes).Message, Does.Contain("token embedding holds a non-finite value at element 7"));
    }

    [Test]
    public void MissingFile()
    {
        string path = _files.NewPath("nothing-here.bin");
        var e = Assert.Throws<ModelFormatException>(() => ModelLoader.Load(path))!;
        Assert.That(e.Message, Is.EqualTo($"{path}: file not found"));
    }

    [Test]
    public void EmptyPath()
    {
        var e = Assert.Throws<ModelFormatException>(() => ModelLoader.Load(""))!;
        Assert.That(e.Message, Does.Contain("no model path given"));
    }
}
