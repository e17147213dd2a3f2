using System.Globalization;
using System.Text.RegularExpressions;
using SpecEE.Core.Formats;

namespace SpecEE.Core.EarlyExit;

/// <summary>
/// Reads and writes <see cref="PredictorSet"/>s as safetensors with SpecEE's tensor names (those of the official
/// PC release, <c>SpecEE_PC/specee_weights/model-predictor-mixed.safetensors</c>):
/// <c>model.layers.{i}.pred.up.weight</c> [hidden, 12], <c>.up.bias</c> [hidden], <c>.down.weight</c> [1, hidden],
/// <c>.down.bias</c> [1], in F16, BF16 or F32. Our files add <c>__metadata__</c> keys
/// <see cref="NLayersKey"/> and <see cref="OfflineLayersKey"/> (comma-separated 0-based layers, e.g. "15,16,17").
/// </summary>
public static partial class PredictorSetFile
{
    /// <summary>Metadata key of the offline layer set, e.g. "15,16,17,19,21,24,26,28".</summary>
    public const string OfflineLayersKey = "specee.offline_layers";

    /// <summary>Metadata key of the model's decoder layer count L.</summary>
    public const string NLayersKey = "specee.n_layers";

    /// <summary>Metadata key naming the feature layout, written for humans inspecting the file.</summary>
    public const string FeaturesKey = "specee.features";

    /// <summary>
    /// The offline set hard-coded in SpecEE's code for its released Llama-2-7B predictors (0-based layers;
    /// cloud <c>model_llama_ee.py</c>, AWQ fused model and PC <c>build_eauto</c> agree). The released file does not carry it.
    /// </summary>
    public static IReadOnlyList<int> OfficialLlama2_7BOfflineLayers { get; } = [15, 16, 17, 19, 21, 24, 26, 28];

    [GeneratedRegex(@"^model\.layers\.(\d+)\.pred\.(up|down)\.(weight|bias)$", RegexOptions.CultureInvariant)]
    private static partial Regex PredictorName();

    /// <summary>
    /// Loads a predictor file.
    /// </summary>
    /// <param name="path">a .safetensors file</param>
    /// <param name="nLayers">the model's L, when known; must agree with the file's metadata. Without either,
    /// L = highest predictor index + 1 (right for SpecEE's release, which has one predictor per layer 0..31).</param>
    /// <param name="defaultOfflineLayers">offline set to use when the file has none in its metadata
    /// (e.g. <see cref="OfficialLlama2_7BOfflineLayers"/>); if null too, every layer with a predictor is offline.</param>
    public static PredictorSet Read(string path, int? nLayers = null, IReadOnlyList<int>? defaultOfflineLayers = null)
    {
        RejectPickle(path);
        var file = SafetensorsFile.Open(path);

        // Group tensor names by layer index; anything that is not a predictor tensor is ignored (a predictor file
        // may sit inside a larger checkpoint, as SpecEE's PC build merges them into the GGUF).
        var layers = new SortedSet<int>();
        foreach (string name in file.Names)
        {
            var m = PredictorName().Match(name);
            if (!m.Success) continue;
            if (!int.TryParse(m.Groups[1].Value, NumberStyles.None, CultureInfo.InvariantCulture, out int idx) || idx > 100_000)
                throw new ModelFormatException($"{path}: tensor '{name}' has an unusable layer index");
            layers.Add(idx);
        }
        if (layers.Count == 0)
            throw new ModelFormatException($"{path}: no exit predictor tensors (expected names like 'model.layers.0.pred.up.weight')");

        int l = ResolveLayerCount(path, file, nLayers, layers.Max);
        var predictors = new ExitPredictor?[l - 1];
        foreach (int layer in layers)
        {
            if (layer >= l)
                throw new ModelFormatException($"{path}: has a predictor for layer {layer} but the model has only {l} layers");
            // A predictor after the last layer (SpecEE's release has model.layers.31.pred.* for 32 layers) can never
            // save anything, so it is not loaded; its tensors are still checked for shape.
            var p = ReadPredictor(path, file, layer);
            if (layer < l - 1) predictors[layer] = p;
        }

        IReadOnlyList<int>? offline = null;
        var origin = OfflineSetOrigin.AllPredictors;
        if (file.Metadata.TryGetValue(OfflineLayersKey, out string? text))
        {
            offline = ParseLayerList(path, text);
            origin = OfflineSetOrigin.Metadata;
        }
        else if (defaultOfflineLayers != null)
        {
            offline = defaultOfflineLayers;
            origin = OfflineSetOrigin.Supplied;
        }
        if (offline != null)
        {
            foreach (int o in offline)
                if (o < 0 || o > l - 2 || predictors[o] == null)
                    throw new ModelFormatException($"{path}: offline layer {o} ({(origin == OfflineSetOrigin.Metadata ? "from " + OfflineLayersKey : "supplied")}) " +
                        $"must be in [0, {l - 2}] and have a predictor");
        }
        return new PredictorSet(l, predictors, offline, origin);
    }

    /// <summary>Writes the set as F32 safetensors with <see cref="NLayersKey"/> and <see cref="OfflineLayersKey"/> metadata.</summary>
    public static void Write(string path, PredictorSet set)
    {
        var w = new SafetensorsWriter();
        w.Metadata[NLayersKey] = set.NLayers.ToString(CultureInfo.InvariantCulture);
        w.Metadata[OfflineLayersKey] = string.Join(",", set.OfflineLayers);
        w.Metadata[FeaturesKey] = "z0..z3,p0..p3,delta0..delta3; out = sigmoid(down(relu(up(x))))";
        for (int l = 0; l < set.NLayers - 1; l++)
        {
            var p = set[l];
            if (p == null) continue;
            string pre = $"model.layers.{l}.pred.";
            w.AddF32(pre + "up.weight", p.UpWeight, p.Hidden, ExitPredictor.InputSize);
            w.AddF32(pre + "up.bias", p.UpBias, p.Hidden);
            w.AddF32(pre + "down.weight", p.DownWeight, 1, p.Hidden);
            w.AddF32(pre + "down.bias", [p.DownBias], 1);
        }
        w.Save(path);
    }

    private static ExitPredictor ReadPredictor(string path, SafetensorsFile file, int layer)
    {
        string pre = $"model.layers.{layer}.pred.";
        foreach (string part in new[] { "up.weight", "up.bias", "down.weight", "down.bias" })
        {
            if (!file.Contains(pre + part))
                throw new ModelFormatException($"{path}: layer {layer} predictor is incomplete: tensor '{pre + part}' is missing");
            if (part == "up.weight") CheckUpShape(path, file.Info(pre + part));
        }
        int hidden = (int)file.Info(pre + "up.weight").Shape[0];
        float[] up = file.ReadF32(pre + "up.weight", hidden, ExitPredictor.InputSize);
        float[] upBias = file.ReadF32(pre + "up.bias", hidden);
        float[] down = file.ReadF32(pre + "down.weight", 1, hidden);
        float[] downBias = file.ReadF32(pre + "down.bias", 1);
        return new ExitPredictor(up, upBias, down, downBias[0]);
    }

    private static void CheckUpShape(string path, SafetensorInfo up)
    {
        if (up.Shape.Length != 2 || up.Shape[1] != ExitPredictor.InputSize || up.Shape[0] < 1 || up.Shape[0] > 1 << 20)
            throw new ModelFormatException($"{path}: tensor '{up.Name}' has shape {up.ShapeText}, expected [hidden, {ExitPredictor.InputSize}] " +
                "(12 features z, p, Δ; SpecEE's predictor variants with hidden-state inputs are not supported)");
    }

    private static int ResolveLayerCount(string path, SafetensorsFile file, int? requested, int maxIndex)
    {
        int? fromMeta = null;
        if (file.Metadata.TryGetValue(NLayersKey, out string? text))
        {
            if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int v) || v < 2)
                throw new ModelFormatException($"{path}: metadata {NLayersKey}='{text}' is not a layer count ≥ 2");
            fromMeta = v;
        }
        if (requested is int r && r < 2)
            throw new InvalidRequestException($"a model needs at least 2 layers for early exit, got {r}");
        if (fromMeta is int m && requested is int q && m != q)
            throw new ModelFormatException($"{path}: predictors were trained for a {m}-layer model, but this model has {q} layers");
        return fromMeta ?? requested ?? Math.Max(2, maxIndex + 1);
    }

    private static int[] ParseLayerList(string path, string text)
    {
        var list = new List<int>();
        foreach (string part in text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            if (!int.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out int v))
                throw new ModelFormatException($"{path}: metadata {OfflineLayersKey}='{text}' is not a comma-separated list of layer indices");
            list.Add(v);
        }
        return list.ToArray();
    }

    /// <summary>
    /// SpecEE's cloud release ships predictors as PyTorch <c>.pth</c> pickles of whole modules. Unpickling runs
    /// arbitrary code from the file, so we never do it; users convert once (in Python: load, then save the
    /// state dict with safetensors under the names above) or use the PC release's safetensors file.
    /// </summary>
    private static void RejectPickle(string path)
    {
        string ext = System.IO.Path.GetExtension(path).ToLowerInvariant();
        bool pickle = ext is ".pth" or ".pt" or ".pkl" or ".ckpt";
        if (!pickle && File.Exists(path))
        {
            Span<byte> head = stackalloc byte[9];
            using var fs = File.OpenRead(path);
            int n = fs.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
            // A safetensors file has its JSON header's '{' at byte 8 (its first 8 bytes are a length, which can
            // start with 0x80). Otherwise: torch.save's zip container starts "PK\x03\x04"; a bare pickle starts with
            // the PROTO opcode 0x80 and a protocol number ≤ 5.
            bool safetensors = n >= 9 && head[8] == (byte)'{';
            pickle = !safetensors && ((n >= 4 && head[0] == (byte)'P' && head[1] == (byte)'K' && head[2] == 3 && head[3] == 4)
                                      || (n >= 2 && head[0] == 0x80 && head[1] <= 5));
        }
        if (pickle)
            throw new ModelFormatException($"{path}: looks like a PyTorch pickle (.pth). SpecEE.Native never unpickles files, " +
                "because loading a pickle can run arbitrary code. Convert it to safetensors with names " +
                "'model.layers.{i}.pred.{up,down}.{weight,bias}' (or use SpecEE's PC release " +
                "specee_weights/model-predictor-mixed.safetensors).");
    }
}
