using SpecEE.Core;
using SpecEE.Core.Formats;
using SpecEE.Core.EarlyExit;

namespace SpecEE.Tests.EarlyExit;

public class EagleWeightsTests
{
    private static string Dir => TestPaths.DefaultModelDir;

    [Test]
    public void LoadsTheTinyStoriesHead_WithQkRowsInInterleavedOrder()
    {
        var w = EagleWeights.LoadDirectory(Dir);
        Assert.That(w.Config.Dim, Is.EqualTo(128));
        Assert.That(w.Config.NLayers, Is.EqualTo(1));
        Assert.That(w.Config.HiddenDim, Is.EqualTo(384));
        Assert.That(w.FcBias, Is.Not.Null);
        Assert.That(w.FcWeight.Length, Is.EqualTo(128 * 256));

        // HF rotate-half pairs (i, i + 16) of a 32-wide head become rows (2i, 2i + 1): check head 1, pair i = 3.
        var raw = SafetensorsFile.Open(Path.Combine(Dir, "eagle.safetensors"));
        float[] q = raw.ReadF32("layers.0.self_attn.q_proj.weight", 128, 128);
        float[] k = raw.ReadF32("layers.0.self_attn.k_proj.weight", 64, 128);
        float[] Row(float[] m, int r) => m.AsSpan(r * 128, 128).ToArray();
        Assert.That(Row(w.Wq, 32 + 6), Is.EqualTo(Row(q, 32 + 3)));
        Assert.That(Row(w.Wq, 32 + 7), Is.EqualTo(Row(q, 32 + 16 + 3)));
        Assert.That(Row(w.Wk, 32 + 7), Is.EqualTo(Row(k, 32 + 16 + 3)));
        Assert.That(w.Wv, Is.EqualTo(raw.ReadF32("layers.0.self_attn.v_proj.weight", 64, 128)));
    }

    [Test]
    public void ExtraOrMissingTensors_AreClearErrors()
    {
        var raw = SafetensorsFile.Open(Path.Combine(Dir, "eagle.safetensors"));
        string Copy(string? drop, string? add)
        {
            var w = new SafetensorsWriter();
            foreach (string n in raw.Names.Where(n => n != drop))
                w.AddF32(n, raw.ReadF32(n, raw.Info(n).Shape), raw.Info(n).Shape);
            if (add != null) w.AddF32(add, new float[128], 128);
            string dir = Path.GetDirectoryName(TestPaths.TempFile("x"))!;
            File.Copy(Path.Combine(Dir, "eagle_config.json"), Path.Combine(dir, "eagle_config.json"));
            w.Save(Path.Combine(dir, "eagle.safetensors"));
            return dir;
        }
        var e1 = Assert.Throws<ModelFormatException>(() => EagleWeights.LoadDirectory(Copy(null, "norm.weight")))!;
        Assert.That(e1.Message, Does.Contain("'norm.weight'").And.Contain("eagle.safetensors"));
        var e2 = Assert.Throws<ModelFormatException>(() => EagleWeights.LoadDirectory(Copy("layers.0.mlp.up_proj.weight", null)))!;
        Assert.That(e2.Message, Does.Contain("layers.0.mlp.up_proj.weight").And.Contain("missing"));
        var e3 = Assert.Throws<ModelFormatException>(() => EagleWeights.LoadDirectory(Copy("fc.bias", null)))!;
        Assert.That(e3.Message, Does.Contain("fc.bias").And.Contain("\"bias\": true"));
        // an unused input_layernorm (EAGLE-1 skips it in layer 0) is accepted
        Assert.That(EagleWeights.LoadDirectory(Copy(null, "layers.0.input_layernorm.weight")).Config.Dim, Is.EqualTo(128));
    }

    [Test]
    public void HeadMustFitTheBaseModel()
    {
        var w = EagleWeights.LoadDirectory(Dir);
        var other = w.Config with { Dim = 64, NHeads = 2 };
        var e = Assert.Throws<ModelFormatException>(() => w.CheckCompatible(other, "base.bin"))!;
        Assert.That(e.Message, Does.Contain("base.bin").And.Contain("dim 64"));
    }
}
