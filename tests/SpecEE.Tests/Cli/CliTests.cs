using System.Text.Json;
using SpecEE.Cli;

namespace SpecEE.Tests.Cli;

/// <summary>The `specee` command line end to end, through CliMain.Run with captured streams.</summary>
public class CliTests
{
    private static (int Code, string Out, string Err) Run(string stdin, params string[] args)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        int code = CliMain.Run(args, o, e, new StringReader(stdin));
        return (code, o.ToString(), e.ToString());
    }

    private static int[] Ints(JsonElement a) => a.EnumerateArray().Select(x => x.GetInt32()).ToArray();

    [Test]
    public void Generate_Stories260K_FromBos_ReproducesReferenceIds()
    {
        var (code, stdout, stderr) = Run("", "generate", "--model", TestPaths.Fixture("stories260K.bin"),
            "--prompt", "", "-n", "255", "--temp", "0", "--json");
        Assert.That(code, Is.EqualTo(0), stderr);
        using var got = JsonDocument.Parse(stdout);
        using var reference = JsonDocument.Parse(File.ReadAllText(TestPaths.Fixture("stories260K_reference.json")));
        Assert.That(Ints(got.RootElement.GetProperty("ids")), Is.EqualTo(Ints(reference.RootElement.GetProperty("greedy_from_bos_ids"))));
        Assert.That(got.RootElement.GetProperty("text").GetString(),
            Is.EqualTo(reference.RootElement.GetProperty("greedy_from_bos_text").GetString()));
        Assert.That(got.RootElement.GetProperty("tokens_per_s").GetDouble(), Is.GreaterThan(0));
    }

    [Test]
    public void Generate_DefaultModel_ContinuesTheReferencePrompt()
    {
        using var reference = JsonDocument.Parse(File.ReadAllText(TestPaths.Fixture("tinystories-16L_reference.json")));
        string prompt = reference.RootElement.GetProperty("prompt_text").GetString()!;
        // --no-exit: the embedded model runs SpecEE by default (its predictors ship beside it); this checks the dense path.
        var (code, stdout, stderr) = Run("", "generate", "--prompt", prompt, "-n", "32", "--no-exit", "--json");
        Assert.That(code, Is.EqualTo(0), stderr);
        using var got = JsonDocument.Parse(stdout);
        var expected = Ints(reference.RootElement.GetProperty("greedy_128_ids"))[..32];
        Assert.That(Ints(got.RootElement.GetProperty("new_ids")), Is.EqualTo(expected));
        Assert.That(Ints(got.RootElement.GetProperty("ids"))[..16],
            Is.EqualTo(Ints(reference.RootElement.GetProperty("prompt_ids_with_bos"))));
    }

    [Test]
    public void Generate_SeededSampling_IsReproducible_AndDiffersAcrossSeeds()
    {
        string[] Args(string seed) => ["generate", "--prompt", "Once upon a time", "-n", "24", "--temp", "1.0", "--top-p", "0.9", "--seed", seed, "--json"];
        static string Ids(string json) => JsonDocument.Parse(json).RootElement.GetProperty("new_ids").GetRawText();
        var a = Run("", Args("7"));
        var b = Run("", Args("7"));
        var c = Run("", Args("8"));
        Assert.That(Ids(a.Out), Is.EqualTo(Ids(b.Out)));
        Assert.That(Ids(a.Out), Is.Not.EqualTo(Ids(c.Out)));
    }

    [TestCase(new[] { "generate", "--bogus" }, "unknown option --bogus")]
    [TestCase(new[] { "generate", "--prompt", "x", "-n", "abc" }, "option -n wants an integer")]
    [TestCase(new[] { "generate", "--prompt", "x", "--temp", "-1" }, "option --temp wants a number")]
    [TestCase(new[] { "generate", "--prompt", "x", "--dtype", "f8" }, "option --dtype wants one of f32, f16")]
    [TestCase(new[] { "generate", "--prompt" }, "option --prompt needs a value")]
    [TestCase(new[] { "generate" }, "generate needs --prompt")]
    [TestCase(new[] { "frobnicate" }, "unknown command 'frobnicate'")]
    public void BadCommandLine_ExitsTwoWithOneClearMessage(string[] args, string expected)
    {
        var (code, stdout, stderr) = Run("", args);
        Assert.That(code, Is.EqualTo(2));
        Assert.That(stderr, Does.Contain(expected));
        Assert.That(stderr, Does.Not.Contain("   at "), "no stack trace");
        Assert.That(stdout, Is.Empty);
    }

    [Test]
    public void MissingOrTruncatedModel_ExitsOneNamingTheFile()
    {
        string truncated = TestPaths.TempFile("stories260K.bin");
        File.WriteAllBytes(truncated, File.ReadAllBytes(TestPaths.Fixture("stories260K.bin"))[..5000]);
        foreach (string model in new[] { "/nonexistent/model.bin", truncated })
        {
            var (code, _, stderr) = Run("", "generate", "--model", model, "--prompt", "hi");
            Assert.That(code, Is.EqualTo(1), stderr);
            Assert.That(stderr, Does.StartWith("specee: error: " + model));
            Assert.That(stderr.Trim().Split('\n'), Has.Length.EqualTo(1), "one line");
        }
    }

    [Test]
    public void PromptLongerThanContext_ExitsOneBeforePrintingAnything()
    {
        string prompt = string.Concat(Enumerable.Repeat("once upon a time ", 300));
        var (code, stdout, stderr) = Run("", "generate", "--prompt", prompt);
        Assert.That(code, Is.EqualTo(1));
        Assert.That(stderr, Does.Contain("context holds 512"));
        Assert.That(stdout, Is.Empty);
    }

    [Test]
    public void Repl_CommandsAndContinuation()
    {
        string script = "Once upon a time\n/stats\n/nonsense\nThe dog\n/reset\n/stats\n/quit\nnot reached\n";
        var (code, stdout, stderr) = Run(script, "repl", "-n", "8");
        Assert.That(code, Is.EqualTo(0), stderr);
        Assert.That(stdout, Does.Contain("last: 8 tokens"));
        Assert.That(stdout, Does.Contain("unknown command /nonsense"));
        Assert.That(stdout, Does.Contain("/reset"), "help is shown after a bad command");
        Assert.That(stdout, Does.Contain("(context cleared)"));
        Assert.That(stdout, Does.Contain("context 0/512"), "reset empties the context");
    }

    [Test]
    public void Repl_SpecEEStats_CoverTheLastTurnOnly()
    {
        // The embedded model runs SpecEE by default: 8 new tokens are 1 from the prefill + 7 SpecEE decode steps,
        // in the second turn as in the first (the counters must not carry over).
        var (code, stdout, stderr) = Run("Once upon a time\n/stats\nThe dog ran\n/stats\n/quit\n", "repl", "-n", "8");
        Assert.That(code, Is.EqualTo(0), stderr);
        string[] stats = stdout.Split('\n').Where(l => l.Contains("specee steps")).ToArray();
        Assert.That(stats, Has.Length.EqualTo(2), stdout);
        Assert.That(stats, Has.All.Contains("last: 8 tokens").And.All.Contains("specee steps 7,"));
    }

    [Test]
    public void Ctx_BoundsTheContext_OnEveryBackendPath()
    {
        // Dense (--no-exit) and SpecEE (default): 32 positions, a 16-token prompt, so exactly 16 new tokens fit.
        using var reference = JsonDocument.Parse(File.ReadAllText(TestPaths.Fixture("tinystories-16L_reference.json")));
        string prompt = reference.RootElement.GetProperty("prompt_text").GetString()!;
        foreach (string[] extra in new[] { new[] { "--no-exit" }, Array.Empty<string>() })
        {
            var (code, stdout, stderr) = Run("", ["generate", "--prompt", prompt, "-n", "100", "--ctx", "32", "--ignore-eos", "--json", .. extra]);
            Assert.That(code, Is.EqualTo(0), stderr);
            using var got = JsonDocument.Parse(stdout);
            Assert.That(Ints(got.RootElement.GetProperty("ids")), Has.Length.EqualTo(32), string.Join(" ", extra));
        }
        var tooLong = Run("", "generate", "--prompt", string.Concat(Enumerable.Repeat("Once upon a time. ", 10)), "--ctx", "16");
        Assert.That(tooLong.Code, Is.EqualTo(1));
        Assert.That(tooLong.Err, Does.Contain("context holds 16"));
        var beyond = Run("", "generate", "--prompt", "x", "--ctx", "513");
        Assert.That(beyond.Code, Is.EqualTo(2));
        Assert.That(beyond.Err, Does.Contain("--ctx 513 is longer than the model's context of 512"));
    }

    [Test]
    public void Repl_EndOfInput_LeavesCleanly()
    {
        var (code, _, _) = Run("", "repl");
        Assert.That(code, Is.EqualTo(0));
    }
}
