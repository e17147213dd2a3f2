using SpecEE.Core;
using SpecEE.Core.Formats;

namespace SpecEE.Tests.Formats;

public class SafetensorsFileTests
{
    private readonly FormatTestFiles _files = new();

    [TearDown]
    public void TearDown() => _files.Cleanup();

    [Test]
    public void PredictorFixture_HasTheDocumentedTensors()
    {
        // README: 128 F16 tensors, per layer i < 32: pred.up.weight [512,12], up.bias [512], down.weight [1,512], down.bias [1].
        var f = SafetensorsFile.Open(TestPaths.Fixture("specee-llama2-7b-predictors.safetensors"));
        Assert.That(f.Names, Has.Count.EqualTo(128));
        Assert.That(f.Info("model.layers.31.pred.up.weight").Shape, Is.EqualTo(new long[] { 512, 12 }));
        Assert.That(f.Info("model.layers.0.pred.down.bias").DType, Is.EqualTo(TensorDType.F16));
        Assert.That(f.ReadF32("model.layers.0.pred.up.weight", 512, 12).All(float.IsFinite), Is.True);
    }

    [Test]
    public void OpenFromDisk_EqualsParseInMemory()
    {
        string path = Path.Combine(TestPaths.DefaultModelDir, "model.safetensors");
        var disk = SafetensorsFile.Open(path);
        var memory = SafetensorsFile.Parse(path, File.ReadAllBytes(path));
        Assert.That(disk.Names, Is.EquivalentTo(memory.Names));
        Assert.That(disk.Metadata["format"], Is.EqualTo("pt"));
        foreach (string name in new[] { "model.layers.11.mlp.down_proj.weight", "lm_head.weight", "model.norm.weight" })
        {
            var shape = disk.Info(name).Shape;
            HfLlamaReaderTests.AssertSameValues(disk.ReadF32(name, shape), memory.ReadF32(name, shape), name);
        }
    }

    [Test]
    public void FileTruncatedAfterOpen_ReadFailsCleanly()
    {
        string path = _files.Write("model.safetensors", File.ReadAllBytes(Path.Combine(TestPaths.DefaultModelDir, "model.safetensors")));
        var f = SafetensorsFile.Open(path);
        using (var s = new FileStream(path, FileMode.Open)) s.SetLength(s.Length / 2);
        var e = Assert.Throws<ModelFormatException>(() => f.ReadF32("model.norm.weight", 128))!;
        Assert.That(e.Message, Does.StartWith(path).And.Contain("changed size since it was opened"));
    }

    [Test]
    public void ShapeMismatch_NamesTensorAndBothShapes()
    {
        var f = SafetensorsFile.Open(Path.Combine(TestPaths.DefaultModelDir, "model.safetensors"));
        var e = Assert.Throws<ModelFormatException>(() => f.ReadF32("model.norm.weight", 64))!;
        Assert.That(e.Message, Does.EndWith("tensor 'model.norm.weight' has shape [128], expected [64]"));
        Assert.That(Assert.Throws<ModelFormatException>(() => f.Info("nope"))!.Message, Does.EndWith("tensor 'nope' is missing"));
    }
}
