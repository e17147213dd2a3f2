using System.Text.Json;
using SpecEE.Core.EarlyExit;
using SpecEE.Core.Formats;
using SpecEE.Core.Model;

namespace SpecEE.Tests.EarlyExit;

/// <summary>
/// The embedded tinystories-16L with its EAGLE head, shipped predictors and reference ids, loaded once per test run
/// and shared by the SpecEE tests (none of them modifies the model or the head).
/// </summary>
internal static class DefaultModel
{
    private static LlamaModel? _model;
    private static EagleWeights? _eagle;
    private static JsonElement? _reference;

    public static LlamaModel Model => _model ??= ModelLoader.Load(TestPaths.DefaultModelDir);

    public static EagleWeights Eagle => _eagle ??= EagleWeights.LoadDirectory(TestPaths.DefaultModelDir);

    /// <summary>An int array of tests/fixtures/tinystories-16L_reference.json (e.g. "greedy_128_ids").</summary>
    public static int[] Ref(string key)
    {
        _reference ??= JsonDocument.Parse(File.ReadAllBytes(TestPaths.Fixture("tinystories-16L_reference.json"))).RootElement.Clone();
        return _reference.Value.GetProperty(key).EnumerateArray().Select(e => e.GetInt32()).ToArray();
    }

    /// <summary>The shipped predictors with their offline set (a fresh set each call: its threshold is settable).</summary>
    public static PredictorSet ShippedPredictors() =>
        PredictorSetFile.Read(Path.Combine(TestPaths.DefaultModelDir, "predictors.safetensors"), Model.Config.NLayers);

    /// <summary>
    /// Predictors whose sigmoid output is constant — down bias +20 (always fires) or −20 (never), zero weights — on
    /// every layer 0..L−2, all of them scheduled (no offline set).
    /// </summary>
    public static PredictorSet ConstantPredictors(bool fire, int? nLayers = null)
    {
        int L = nLayers ?? Model.Config.NLayers;
        var p = new ExitPredictor(new float[12], [0f], [0f], fire ? 20f : -20f);
        return new PredictorSet(L, Enumerable.Repeat<ExitPredictor?>(p, L - 1).ToArray(), offlineLayers: null);
    }
}
