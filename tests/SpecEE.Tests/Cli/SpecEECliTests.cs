using System.Text.Json;
using SpecEE.Cli;
using SpecEE.Core.EarlyExit;

namespace SpecEE.Tests.Cli;

/// <summary>SpecEE through the command line: generate/eval with the shipped predictors, train-predictors.</summary>
public class SpecEECliTests
{
    private static (int Code, string Out, string Err) Run(params string[] args)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        int code = CliMain.Run(args, o, e, new StringReader(""));
        return (code, o.ToString(), e.ToString());
    }

    private static int[] Ints(JsonElement a) => a.EnumerateArray().Select(x => x.GetInt32()).ToArray();

    private static JsonElement Reference(string key)
    {
        using var json = JsonDocument.Parse(File.ReadAllText(TestPaths.Fixture("tinystories-16L_reference.json")));
        return json.RootElement.GetProperty(key).Clone();
    }

    private static string ShippedPredictors => Path.Combine(TestPaths.DefaultModelDir, "predictors.safetensors");

    [Test]
    public void ShippedPredictors_LoadWithTheirOfflineSet()
    {
        var set = PredictorSetFile.Read(ShippedPredictors, 16);
        Assert.That(set.NLayers, Is.EqualTo(16));
        Assert.That(set.Count, Is.EqualTo(15), "one predictor per layer 0..14");
        Assert.That(set.OfflineOrigin, Is.EqualTo(OfflineSetOrigin.Metadata));
        Assert.That(set.OfflineLayers, Is.Not.Empty);
        Assert.That(set.OfflineLayers.Count, Is.LessThan(15), "the offline set is a selection, not every layer");
        Assert.That(set.OfflineLayers, Is.Ordered.And.All.InRange(0, 14));
    }

    [TestCase("mask")]
    [TestCase("project")]
    public void Generate_ThresholdAboveOne_ReproducesTheDenseReference(string kv)
    {
        string prompt = Reference("prompt_text").GetString()!;
        var (code, stdout, stderr) = Run("generate", "--prompt", prompt, "-n", "24", "--threshold", "2", "--kv-policy", kv, "--json");
        Assert.That(code, Is.EqualTo(0), stderr);
        using var got = JsonDocument.Parse(stdout);
        Assert.That(got.RootElement.GetProperty("specee").GetBoolean(), Is.True, "predictors ship beside the default model");
        Assert.That(Ints(got.RootElement.GetProperty("new_ids")), Is.EqualTo(Ints(Reference("greedy_128_ids"))[..24]));
        Assert.That(got.RootElement.GetProperty("avg_layers").GetDouble(), Is.EqualTo(16));
        int[] exits = Ints(got.RootElement.GetProperty("exit_layers"));
        Assert.That(exits, Has.Length.EqualTo(24));
        Assert.That(exits, Is.All.EqualTo(15));
    }

    [Test]
    public void Generate_DefaultSpecEE_ExitLayersAndAverageAgree()
    {
        string prompt = Reference("prompt_text").GetString()!;
        var (code, stdout, stderr) = Run("generate", "--prompt", prompt, "-n", "48", "--ignore-eos", "--json");
        Assert.That(code, Is.EqualTo(0), stderr);
        using var got = JsonDocument.Parse(stdout);
        var r = got.RootElement;
        int[] exits = Ints(r.GetProperty("exit_layers"));
        Assert.That(exits, Has.Length.EqualTo(r.GetProperty("new_tokens").GetInt32()));
        Assert.That(exits[0], Is.EqualTo(15), "the first token comes from the dense prefill");
        Assert.That(exits, Is.All.InRange(0, 15));
        Assert.That(r.GetProperty("avg_layers").GetDouble(), Is.EqualTo(exits.Average(e => e + 1.0)).Within(1e-4));
        Assert.That(exits.Count(e => e < 15), Is.GreaterThan(0), "the shipped predictors exit somewhere on 48 tokens");
        // Greedy stays greedy: up to the first exit, the tokens are the dense ones.
        int first = Array.FindIndex(exits, e => e < 15);
        Assert.That(Ints(r.GetProperty("new_ids"))[..first], Is.EqualTo(Ints(Reference("greedy_128_ids"))[..first]));
    }

    [Test]
    public void Generate_NoExit_IsDense()
    {
        var (code, stdout, stderr) = Run("generate", "--prompt", Reference("prompt_text").GetString()!, "-n", "8", "--no-exit", "--json");
        Assert.That(code, Is.EqualTo(0), stderr);
        using var got = JsonDocument.Parse(stdout);
        Assert.That(got.RootElement.GetProperty("specee").GetBoolean(), Is.False);
        Assert.That(Ints(got.RootElement.GetProperty("new_ids")), Is.EqualTo(Ints(Reference("greedy_128_ids"))[..8]));
    }

    [TestCase("mask")]
    [TestCase("project")]
    public void Eval_ThresholdAboveOne_IsExactlyDense(string kv)
    {
        var (code, stdout, stderr) = Run("eval", "--data", TestPaths.Fixture("tinystories_valid_head.txt"), "--max-tokens", "200",
            "--threshold", "1.5", "--kv-policy", kv, "--json");
        Assert.That(code, Is.EqualTo(0), stderr);
        using var got = JsonDocument.Parse(stdout);
        var r = got.RootElement;
        Assert.That(r.GetProperty("tokens").GetInt32(), Is.EqualTo(200));
        Assert.That(r.GetProperty("agreement").GetDouble(), Is.EqualTo(1.0));
        Assert.That(r.GetProperty("avg_layers").GetDouble(), Is.EqualTo(16));
        Assert.That(r.GetProperty("n_layers").GetInt32(), Is.EqualTo(16));
        Assert.That(r.GetProperty("specee_nll").GetDouble(), Is.EqualTo(r.GetProperty("dense_nll").GetDouble()));
        Assert.That(r.GetProperty("predictor_fired").GetInt32(), Is.Zero);
        Assert.That(r.GetProperty("verify_rejected").GetInt32(), Is.Zero);
        Assert.That(Ints(r.GetProperty("exit_histogram"))[15], Is.EqualTo(200));
    }

    [Test]
    public void Eval_DefaultThreshold_ReportsConsistentCounters()
    {
        var (code, stdout, stderr) = Run("eval", "--data", TestPaths.Fixture("tinystories_valid_head.txt"), "--max-tokens", "300", "--json");
        Assert.That(code, Is.EqualTo(0), stderr);
        using var got = JsonDocument.Parse(stdout);
        var r = got.RootElement;
        int[] hist = Ints(r.GetProperty("exit_histogram"));
        Assert.That(hist.Sum(), Is.EqualTo(300));
        double avg = hist.Select((c, l) => c * (l + 1.0)).Sum() / 300;
        Assert.That(r.GetProperty("avg_layers").GetDouble(), Is.EqualTo(avg).Within(1e-9));
        int exits = hist[..15].Sum();
        Assert.That(r.GetProperty("predictor_fired").GetInt32() - r.GetProperty("verify_rejected").GetInt32(), Is.EqualTo(exits),
            "every verified fire is an exit");
        Assert.That(r.GetProperty("agreement").GetDouble(), Is.InRange(0.0, 1.0));
    }

    [Test]
    public void BenchSpecEE_TimesSpecEEDecode_AndReportsItsLayers()
    {
        var (code, stdout, stderr) = Run("bench", "--specee", "-n", "24", "--repeats", "1", "--json");
        Assert.That(code, Is.EqualTo(0), stderr);
        using var got = JsonDocument.Parse(stdout);
        Assert.That(got.RootElement.GetProperty("backend").GetString(), Does.StartWith("cpu specee"));
        Assert.That(got.RootElement.GetProperty("avg_layers").GetDouble(), Is.InRange(1.0, 16.0).And.LessThan(16.0),
            "the shipped predictors exit somewhere");
        Assert.That(got.RootElement.GetProperty("decode_tokens_per_s_median").GetDouble(), Is.GreaterThan(0));

        var dense = Run("bench", "-n", "8", "--repeats", "1", "--json");
        Assert.That(dense.Code, Is.EqualTo(0), dense.Err);
        using var denseJson = JsonDocument.Parse(dense.Out);
        Assert.That(denseJson.RootElement.TryGetProperty("avg_layers", out _), Is.False, "plain bench stays dense");
    }

    [Test]
    public void BenchSpecEE_OnAnotherBackend_IsOneUsageError()
    {
        var (code, stdout, stderr) = Run("bench", "--specee", "--backend", "sim");
        Assert.That(code, Is.EqualTo(2));
        Assert.That(stdout, Is.Empty);
        Assert.That(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries)[0],
            Is.EqualTo("specee: --specee runs on the CPU backend only so far, not --backend sim"));
    }

    [Test]
    public void TrainPredictors_IsDeterministicForASeed_AndWritesTheOfflineSet()
    {
        string text = TestPaths.TempFile("tiny.txt");
        File.WriteAllText(text, string.Join("\n\n", File.ReadAllText(TestPaths.Fixture("tinystories_train_head.txt")).Split("\n\n").Take(6)));
        string a = TestPaths.TempFile("a.safetensors"), b = TestPaths.TempFile("b.safetensors");
        string[] Args(string output) => ["train-predictors", "--data", text, "--out", output, "--seed", "7", "--epochs", "2", "--max-tokens", "150"];
        var ra = Run(Args(a));
        Assert.That(ra.Code, Is.EqualTo(0), ra.Err);
        var rb = Run(Args(b));
        Assert.That(rb.Code, Is.EqualTo(0), rb.Err);
        Assert.That(File.ReadAllBytes(a), Is.EqualTo(File.ReadAllBytes(b)), "same seed, same bytes");
        Assert.That(ra.Out, Does.Contain("held-out accuracy per layer").And.Contain("offline set {"));

        var set = PredictorSetFile.Read(a, 16);
        Assert.That(set.Count, Is.EqualTo(15));
        Assert.That(set.OfflineOrigin, Is.EqualTo(OfflineSetOrigin.Metadata));
        Assert.That(ra.Out, Does.Contain("offline set {" + string.Join(", ", set.OfflineLayers) + "}"));
    }
}
