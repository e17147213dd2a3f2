using System.Buffers.Binary;
using System.Text.Json;
using SpecEE.Core;
using SpecEE.Core.EarlyExit;

namespace SpecEE.Tests.EarlyExit;

public class PredictorFileTests
{
    private const string OfficialFile = "specee-llama2-7b-predictors.safetensors";

    [Test]
    public void Predictor_ForwardEqualsHandComputedMlp()
    {
        // hidden 3; up rows: h0 = x0 + x1 + 0.5, h1 = −x2 + 1, h2 = 2·x11 + 3 ; down = [1, 5, −2], bias 0.25
        var up = new float[3 * 12];
        up[0] = 1; up[1] = 1;
        up[12 + 2] = -1;
        up[24 + 11] = 2;
        var p = new ExitPredictor(up, [0.5f, 1f, 3f], [1f, 5f, -2f], 0.25f);
        float[] x = [1, 2, 3, 4, 0.5f, 0, 0, 0, 0, 0, 0, -1];
        // h0 = 3.5 ; h1 = −2 → ReLU 0 ; h2 = 1 ; logit = 3.5 + 0 − 2 + 0.25 = 1.75
        Assert.That(p.Logit(x), Is.EqualTo(1.75f).Within(1e-6f));
        Assert.That(p.Probability(x), Is.EqualTo(1 / (1 + Math.Exp(-1.75))).Within(1e-6));
        Assert.That(p.Fires(x, 0.5f), Is.True);
        Assert.That(p.Fires(x, 0.9f), Is.False); // σ(1.75) ≈ 0.852
    }

    [Test]
    public void OfficialLlama2_7BPredictors_Load()
    {
        string path = TestPaths.Fixture(OfficialFile);
        var set = PredictorSetFile.Read(path, defaultOfflineLayers: PredictorSetFile.OfficialLlama2_7BOfflineLayers);
        Assert.That(set.NLayers, Is.EqualTo(32));
        Assert.That(set.Count, Is.EqualTo(31), "layers 0..30; the file's layer-31 predictor can never save a layer");
        Assert.That(set[31], Is.Null);
        Assert.That(set.OfflineLayers, Is.EqualTo(new[] { 15, 16, 17, 19, 21, 24, 26, 28 }));
        Assert.That(set.OfflineOrigin, Is.EqualTo(OfflineSetOrigin.Supplied));
        Assert.That(set[20]!.Hidden, Is.EqualTo(512));

        // Spot values against the raw bytes, decoded here independently of the reader: IEEE binary16 by hand.
        byte[] raw = File.ReadAllBytes(path);
        long hlen = (long)BinaryPrimitives.ReadUInt64LittleEndian(raw);
        using var header = JsonDocument.Parse(raw.AsMemory(8, (int)hlen));
        double RawF16(string name, int index)
        {
            var e = header.RootElement.GetProperty(name);
            Assert.That(e.GetProperty("dtype").GetString(), Is.EqualTo("F16"));
            long at = 8 + hlen + e.GetProperty("data_offsets")[0].GetInt64() + 2L * index;
            int bits = raw[at] | (raw[at + 1] << 8);
            int sign = bits >> 15, exp = (bits >> 10) & 0x1F, mant = bits & 0x3FF;
            double mag = exp == 0 ? mant / 1024.0 * Math.Pow(2, -14) : (1 + mant / 1024.0) * Math.Pow(2, exp - 15);
            Assert.That(exp, Is.Not.EqualTo(31), "no inf/NaN expected in trained weights");
            return sign == 1 ? -mag : mag;
        }
        Assert.That(set[20]!.UpWeight[7 * 12 + 5], Is.EqualTo(RawF16("model.layers.20.pred.up.weight", 7 * 12 + 5)));
        Assert.That(set[0]!.UpBias[511], Is.EqualTo(RawF16("model.layers.0.pred.up.bias", 511)));
        Assert.That(set[28]!.DownWeight[300], Is.EqualTo(RawF16("model.layers.28.pred.down.weight", 300)));
        Assert.That(set[15]!.DownBias, Is.EqualTo(RawF16("model.layers.15.pred.down.bias", 0)));
        Assert.That(set[20]!.UpWeight[7 * 12 + 5], Is.Not.Zero);
    }

    [Test]
    public void OfficialPredictor_LogitMatchesAPlainDoubleMlp()
    {
        var set = PredictorSetFile.Read(TestPaths.Fixture(OfficialFile));
        var f = new ExitFeatures();
        var x = new float[12];
        f.Compute([14f, 12f, 10f, 9f], x);
        f.Compute([16f, 11f, 10f, 9f], x);
        foreach (int l in new[] { 0, 15, 28 })
        {
            var p = set[l]!;
            double logit = p.DownBias;
            for (int h = 0; h < p.Hidden; h++)
            {
                double a = p.UpBias[h];
                for (int k = 0; k < 12; k++) a += (double)p.UpWeight[h * 12 + k] * x[k];
                logit += p.DownWeight[h] * Math.Max(a, 0);
            }
            Assert.That(p.Logit(x), Is.EqualTo(logit).Within(1e-4 + 1e-5 * Math.Abs(logit)), $"layer {l}");
        }
    }

    [Test]
    public void OfficialPredictors_WithoutOfflineSet_UseAllLayers_AndRejectAShallowerModel()
    {
        string path = TestPaths.Fixture(OfficialFile);
        var all = PredictorSetFile.Read(path);
        Assert.That(all.OfflineOrigin, Is.EqualTo(OfflineSetOrigin.AllPredictors));
        Assert.That(all.OfflineLayers, Is.EqualTo(Enumerable.Range(0, 31)));
        var e = Assert.Throws<ModelFormatException>(() => PredictorSetFile.Read(path, nLayers: 16))!;
        Assert.That(e.Message, Does.Contain("layer 16").And.Contain(OfficialFile));
    }

    [Test]
    public void WriteThenRead_RoundTripsExactly()
    {
        var rng = new Random(7);
        float[] R(int n) => Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        var preds = new ExitPredictor?[5]; // L = 6
        foreach (int l in new[] { 0, 2, 3, 4 }) preds[l] = new ExitPredictor(R(16 * 12), R(16), R(16), R(1)[0]);
        var set = new PredictorSet(6, preds, [2, 4]);
        string file = TestPaths.TempFile("preds.safetensors");
        PredictorSetFile.Write(file, set);

        var back = PredictorSetFile.Read(file);
        Assert.That(back.NLayers, Is.EqualTo(6));
        Assert.That(back.OfflineLayers, Is.EqualTo(new[] { 2, 4 }));
        Assert.That(back.OfflineOrigin, Is.EqualTo(OfflineSetOrigin.Metadata));
        Assert.That(back[1], Is.Null);
        foreach (int l in new[] { 0, 2, 3, 4 })
        {
            Assert.That(back[l]!.UpWeight.ToArray(), Is.EqualTo(preds[l]!.UpWeight.ToArray()));
            Assert.That(back[l]!.UpBias.ToArray(), Is.EqualTo(preds[l]!.UpBias.ToArray()));
            Assert.That(back[l]!.DownWeight.ToArray(), Is.EqualTo(preds[l]!.DownWeight.ToArray()));
            Assert.That(back[l]!.DownBias, Is.EqualTo(preds[l]!.DownBias));
        }
        // metadata wins over a supplied default; a conflicting layer count is an error naming the file
        Assert.That(PredictorSetFile.Read(file, 6, [0]).OfflineLayers, Is.EqualTo(new[] { 2, 4 }));
        var e = Assert.Throws<ModelFormatException>(() => PredictorSetFile.Read(file, nLayers: 32))!;
        Assert.That(e.Message, Does.Contain("6-layer").And.Contain("preds.safetensors"));
    }

    [Test]
    public void PickleFiles_AreRejectedWithoutBeingRead()
    {
        string pth = TestPaths.TempFile("model0.pth");
        File.WriteAllBytes(pth, [0x80, 0x02, 0x63, 0x00]);
        var e = Assert.Throws<ModelFormatException>(() => PredictorSetFile.Read(pth))!;
        Assert.That(e.Message, Does.Contain("pickle").And.Contain("model0.pth"));

        string zip = TestPaths.TempFile("renamed.safetensors"); // torch.save zip under a misleading name
        File.WriteAllBytes(zip, [(byte)'P', (byte)'K', 3, 4, 0, 0, 0, 0, 0, 0]);
        Assert.That(Assert.Throws<ModelFormatException>(() => PredictorSetFile.Read(zip))!.Message, Does.Contain("pickle"));
    }

    [Test]
    public void IncompletePredictor_IsAClearError()
    {
        var w = new SpecEE.Core.Formats.SafetensorsWriter();
        w.AddF32("model.layers.0.pred.up.weight", new float[8 * 12], 8, 12);
        w.AddF32("model.layers.0.pred.up.bias", new float[8], 8);
        w.AddF32("model.layers.0.pred.down.weight", new float[8], 1, 8);
        string file = TestPaths.TempFile("partial.safetensors");
        w.Save(file);
        var e = Assert.Throws<ModelFormatException>(() => PredictorSetFile.Read(file, nLayers: 4))!;
        Assert.That(e.Message, Does.Contain("model.layers.0.pred.down.bias").And.Contain("partial.safetensors"));

        var bad = new SpecEE.Core.Formats.SafetensorsWriter();
        bad.AddF32("model.layers.0.pred.up.weight", new float[8 * 4104], 8, 4104);
        string file2 = TestPaths.TempFile("wide.safetensors");
        bad.Save(file2);
        Assert.That(Assert.Throws<ModelFormatException>(() => PredictorSetFile.Read(file2, nLayers: 4))!.Message,
            Does.Contain("[8, 4104]"));
    }
}
