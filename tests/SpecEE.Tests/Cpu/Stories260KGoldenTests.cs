using System.Text.Json;
using SpecEE.Core.Formats;
using SpecEE.Core.Model;
using SpecEE.Core.Sampling;
using SpecEE.Cpu;

namespace SpecEE.Tests.Cpu;

/// <summary>
/// stories260K (llama2.c, 5 layers, GQA 8q/4kv, tied classifier) against the fp64 numpy reference in
/// tests/fixtures/stories260K_reference.json.
/// </summary>
public class Stories260KGoldenTests
{
    private static LlamaModel _model = null!;
    private static JsonElement _ref;

    [OneTimeSetUp]
    public void Load()
    {
        _model = Llama2cReader.Load(TestPaths.Fixture("stories260K.bin"));
        _ref = JsonDocument.Parse(File.ReadAllText(TestPaths.Fixture("stories260K_reference.json"))).RootElement;
    }

    internal static int[] Ints(JsonElement e, string name) => e.GetProperty(name).EnumerateArray().Select(x => x.GetInt32()).ToArray();
    internal static float[] Floats(JsonElement e, string name) => e.GetProperty(name).EnumerateArray().Select(x => x.GetSingle()).ToArray();

    /// <summary>Greedy ids from BOS: start [BOS], then one argmax step per position, no stop on BOS.</summary>
    internal static int[] GreedyFromBos(CpuLlama llama, int count)
    {
        var ids = new List<int> { llama.Config.BosId };
        for (int pos = 0; ids.Count < count; pos++)
            ids.Add(Sampler.Argmax(llama.Forward(ids[pos], pos)));
        return ids.ToArray();
    }

    [Test]
    public void Greedy256FromBos_EqualsReferenceIds()
    {
        int[] expected = Ints(_ref, "greedy_from_bos_ids");
        Assert.That(expected, Has.Length.EqualTo(256));
        using var llama = new CpuLlama(_model);
        Assert.That(GreedyFromBos(llama, expected.Length), Is.EqualTo(expected));
    }

    [Test]
    public void Greedy256FromBos_F16Weights_EqualsReferenceIds()
    {
        int[] expected = Ints(_ref, "greedy_from_bos_ids");
        using var llama = new CpuLlama(_model.WithDType(WeightDType.F16));
        Assert.That(GreedyFromBos(llama, expected.Length), Is.EqualTo(expected));
    }

    [Test]
    public void PromptLogits_StepwiseForward_MatchReference()
    {
        int[] prompt = Ints(_ref, "prompt_ids_with_bos");
        using var llama = new CpuLlama(_model);
        float[] first = llama.Forward(prompt[0], 0).ToArray();
        float[] last = first;
        for (int pos = 1; pos < prompt.Length; pos++) last = llama.Forward(prompt[pos], pos).ToArray();
        AssertClose(first, Floats(_ref, "prompt_position0_logits"), 1e-4f, "position 0");
        AssertClose(last, Floats(_ref, "prompt_last_position_logits"), 1e-4f, "last prompt position");
    }

    [Test]
    public void PromptLogits_BatchedPrefill_MatchReference()
    {
        int[] prompt = Ints(_ref, "prompt_ids_with_bos");
        using var llama = new CpuLlama(_model, threads: 2);
        AssertClose(llama.Prefill(prompt.AsSpan(0, 1), 0).ToArray(), Floats(_ref, "prompt_position0_logits"), 1e-4f, "position 0");
        llama.Reset();
        AssertClose(llama.Prefill(prompt, 0).ToArray(), Floats(_ref, "prompt_last_position_logits"), 1e-4f, "last prompt position");
    }

    /// <summary>|actual − expected| ≤ atol for every element; the message lists the first mismatches.</summary>
    internal static void AssertClose(float[] actual, float[] expected, float atol, string what)
    {
        Assert.That(actual, Has.Length.EqualTo(expected.Length), what);
        var bad = Enumerable.Range(0, expected.Length)
            .Where(i => !(Math.Abs(actual[i] - expected[i]) <= atol))
            .Take(5).Select(i => $"[{i}] {actual[i]} vs {expected[i]}").ToList();
        Assert.That(bad, Is.Empty, $"{what}: logits differ by more than {atol}: {string.Join(", ", bad)}");
    }
}
