using System.Text.Json;
using SpecEE.Cli;
using SpecEE.Core.Model;
using SpecEE.Cuda.Device;

namespace SpecEE.Tests.Cuda.Model;

/// <summary>
/// `specee generate --backend sim|cuda` end to end through <see cref="CliMain.Run"/>: the CUDA backend (on the simulator,
/// and on the GPU where one exists) reproduces the CPU backend's f16 output for both fixtures, and --backend cuda without a GPU fails
/// with one clear "no CUDA device" line and exit code 1.
/// </summary>
[NonParallelizable]
public class CudaBackendCliTests
{
    private static (int Exit, string Stdout, string Stderr) Cli(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int exit = CliMain.Run(args, stdout, stderr, new StringReader(""));
        return (exit, stdout.ToString(), stderr.ToString());
    }

    private static void RequireSim()
    {
        if (!SimDevice.IsAvailable(out string why)) CudaTestSupport.Unavailable("SPECEE_REQUIRE_SIM", why);
    }

    private static (int[] Prompt, int[] NewIds, string Backend) GenerateJson(string backend, string model, string prompt, int n)
    {
        var (exit, stdout, stderr) = Cli("generate", "--backend", backend, "--dtype", "f16", "--model", model,
            "--prompt", prompt, "-n", n.ToString(System.Globalization.CultureInfo.InvariantCulture), "--ignore-eos", "--no-exit", "--json");
        Assert.That(exit, Is.Zero, $"specee generate --backend {backend} failed: {stderr}");
        JsonElement json = JsonDocument.Parse(stdout).RootElement;
        int promptTokens = json.GetProperty("prompt_tokens").GetInt32();
        int[] ids = json.GetProperty("ids").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        return (ids[..promptTokens], json.GetProperty("new_ids").EnumerateArray().Select(e => e.GetInt32()).ToArray(),
            json.GetProperty("backend").GetString()!);
    }

    [TestCase("sim", "stories260K", "", 64)]
    [TestCase("sim", "tinystories-16L", "Once upon a time, there was a little girl named Lily.", 32)]
    [TestCase("cuda", "stories260K", "", 64)]
    [TestCase("cuda", "tinystories-16L", "Once upon a time, there was a little girl named Lily.", 32)]
    public void Generate_NoExit_DeviceBackendF16_ReproducesCpuF16(string backend, string name, string prompt, int n)
    {
        if (backend == "sim") RequireSim();
        else CudaTestSupport.RequireGpu().Dispose();
        string model = name == "stories260K" ? TestPaths.Fixture("stories260K.bin") : TestPaths.DefaultModelDir;
        var cpu = GenerateJson("cpu", model, prompt, n);
        var sim = GenerateJson(backend, model, prompt, n);
        Assert.That(cpu.Backend, Is.EqualTo("cpu f16"));
        Assert.That(sim.Backend, Is.EqualTo($"{backend} f16"));
        Assert.That(sim.Prompt, Is.EqualTo(cpu.Prompt));
        Assert.That(cpu.NewIds, Has.Length.EqualTo(n));
        if (!sim.NewIds.SequenceEqual(cpu.NewIds))
        {
            // Only a genuine tie may separate them: check it on the CPU's own logits.
            LlamaModel m = (name == "stories260K" ? ModelTestSupport.Stories260K : ModelTestSupport.TinyStories16L).WithDType(WeightDType.F16);
            var (ids, logits) = ModelTestSupport.CpuGreedy(m, cpu.Prompt, n);
            Assert.That(ids, Is.EqualTo(cpu.NewIds), "the CLI's CPU run and the direct CPU run agree");
            ModelTestSupport.AssertEqualOrGenuineTie(sim.NewIds, cpu.NewIds, logits, m.Config.Dim, $"{name} {backend} vs cpu");
        }
    }

    [Test]
    public void Generate_BackendCuda_WithoutGpu_FailsWithOneClearLine()
    {
        try
        {
            using var gpu = CudaDriverDevice.Open();
            Assert.Ignore($"a GPU is present ({gpu.Info.Name}): nothing to refuse");
        }
        catch (SpecEE.Core.SpecEEException e) when (e.Message.StartsWith("no CUDA device", StringComparison.Ordinal))
        {
        }
        var (exit, stdout, stderr) = Cli("generate", "--backend", "cuda", "--model", TestPaths.Fixture("stories260K.bin"), "--prompt", "", "-n", "4");
        Assert.That(exit, Is.EqualTo(1));
        Assert.That(stdout, Is.Empty);
        string[] lines = stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.That(lines, Has.Length.EqualTo(1), stderr);
        Assert.That(lines[0], Does.StartWith("specee: error: no CUDA device: "));
    }

    [Test]
    public void Ctx_SizesTheDeviceCache_AndGenerationStopsAtIt()
    {
        RequireSim();
        var (exit, stdout, stderr) = Cli("generate", "--backend", "sim", "--model", TestPaths.Fixture("stories260K.bin"), "--prompt", "",
            "-n", "50", "--ctx", "20", "--ignore-eos", "--json");
        Assert.That(exit, Is.EqualTo(0), stderr);
        using var json = System.Text.Json.JsonDocument.Parse(stdout);
        Assert.That(json.RootElement.GetProperty("ids").GetArrayLength(), Is.EqualTo(20), "BOS + 19 new tokens fill a 20-position cache");
    }

    [Test]
    public void UnknownBackend_IsAUsageError()
    {
        var (exit, _, stderr) = Cli("generate", "--backend", "tpu", "--model", TestPaths.Fixture("stories260K.bin"), "--prompt", "");
        Assert.That(exit, Is.EqualTo(2));
        Assert.That(stderr, Does.Contain("--backend wants one of cpu, cuda, sim"));
    }
}
