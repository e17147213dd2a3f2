using System.Globalization;
using System.Text.Json;
using SpecEE.Core;
using SpecEE.Core.EarlyExit;
using SpecEE.Cpu;

namespace SpecEE.Cli;

/// <summary>
/// `specee eval`: forced decoding of a text through the real SpecEE step (exits, schedule, gappy KV all live) and
/// through the dense model, compared position by position. --sweep prints the threshold × KV-policy frontier.
/// </summary>
public static class EvalCommand
{
    private static readonly float[] SweepThresholds = [0.5f, 0.6f, 0.7f, 0.8f, 0.9f, 0.95f, 0.98f, 0.99f];

    public static int Run(string[] args, TextWriter stdout, TextWriter stderr)
    {
        var a = CommonOptions.Parse("eval", args, ["--data", "--max-tokens", .. SpecEEOptions.Valued], ["--json", "--sweep"]);
        string data = a.String("--data") ?? throw new UsageException("eval needs --data TEXT (a plain-text file)");
        if (!File.Exists(data)) throw new SpecEEException($"--data {data}: no such file");
        int maxTokens = a.Int("--max-tokens", 20_000, 1, 100_000_000);
        bool json = a.Has("--json"), sweep = a.Has("--sweep");
        float threshold = SpecEEOptions.Threshold(a);
        var kv = SpecEEOptions.KvPolicy(a);

        string modelPath = ModelResolver.ModelPath(a);
        var model = ModelResolver.LoadModel(a, CommonOptions.DType(a));
        var tokenizer = ModelResolver.LoadTokenizer(a, modelPath);
        var eagle = ModelResolver.LoadEagle(a, modelPath, required: true)!;
        var predictors = ModelResolver.LoadPredictors(a, modelPath, model.Config.NLayers, required: true)!;
        int threads = a.Int("--threads", 0, 0, 256);
        var sequences = TextCorpus.Sequences(File.ReadAllText(data), t => tokenizer.Encode(t, addBos: true), maxTokens,
            model.Config.MaxSeq, minTokens: 2);

        var bar = new ProgressBar(stderr, "dense");
        var dense = SpecEEEvaluation.Dense(model, eagle, sequences);
        bar.Finish();

        var configs = sweep
            ? SweepThresholds.SelectMany(t => new[] { new SpecEEConfig(t, KvPolicy.Mask), new SpecEEConfig(t, KvPolicy.Project) }).ToArray()
            : [new SpecEEConfig(threshold, kv)];
        bar = new ProgressBar(stderr, "specee");
        var results = SpecEEEvaluation.Run(model, eagle, predictors, configs, sequences, dense, threads,
            done => bar.Report(done / (double)configs.Length, $"{done}/{configs.Length} configurations"));
        bar.Finish();

        if (sweep && !json) PrintFrontier(stdout, results, predictors);
        else if (json)
        {
            if (results.Length == 1) stdout.WriteLine(Json(results[0], predictors));
            else stdout.WriteLine("[" + string.Join(",", results.Select(r => Json(r, predictors))) + "]");
        }
        else PrintOne(stdout, results[0], predictors);
        return 0;
    }

    private static void PrintFrontier(TextWriter o, SpecEEEvalResult[] results, PredictorSet p)
    {
        var r0 = results[0];
        o.WriteLine($"frontier on {r0.Tokens} tokens ({r0.Sequences} chunks); dense NLL {r0.DenseNll:F4}; offline set {{{string.Join(",", p.OfflineLayers)}}}");
        o.WriteLine("threshold  kv       agreement  nll_ratio  specee_nll  avg_layers  fired  rejected  wrong_exits");
        foreach (var r in results)
            o.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{r.Config.Threshold,9:0.###}  {r.Config.KvPolicy.ToString().ToLowerInvariant(),-7}  {r.Agreement,9:F4}  {r.NllRatio,9:F4}  {r.SpecEENll,10:F4}  {r.AverageLayers,10:F3}  {r.PredictorFired,5}  {r.VerifyRejected,8}  {r.WrongExits,11}"));
    }

    private static void PrintOne(TextWriter o, SpecEEEvalResult r, PredictorSet p)
    {
        o.WriteLine($"tokens      {r.Tokens} ({r.Sequences} chunks)");
        o.WriteLine($"config      threshold {r.Config.Threshold}, kv {r.Config.KvPolicy.ToString().ToLowerInvariant()}, offline set {{{string.Join(",", p.OfflineLayers)}}}");
        o.WriteLine($"dense NLL   {r.DenseNll:F4}   SpecEE NLL {r.SpecEENll:F4} (× {r.NllRatio:F4})");
        o.WriteLine($"agreement   {r.Agreement:F4} with dense greedy; accuracy vs text dense {r.DenseAccuracy:F4}, SpecEE {r.SpecEEAccuracy:F4}");
        o.WriteLine($"avg layers  {r.AverageLayers:F3} of {r.NLayers} ({r.AverageLayersDecode:F3} over decode steps)");
        o.WriteLine($"predictors  {r.PredictorRuns} runs, {r.PredictorFired} fired, {r.VerifyRejected} rejected by verification, {r.EarlyExits} exits ({r.WrongExits} wrong)");
        o.WriteLine($"exit layers {string.Join(" ", r.ExitHistogram)}");
    }

    private static string Json(SpecEEEvalResult r, PredictorSet p)
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms))
        {
            w.WriteStartObject();
            w.WriteNumber("tokens", r.Tokens);
            w.WriteNumber("sequences", r.Sequences);
            w.WriteNumber("threshold", r.Config.Threshold);
            w.WriteString("kv_policy", r.Config.KvPolicy.ToString().ToLowerInvariant());
            w.WriteNumber("n_layers", r.NLayers);
            w.WriteNumber("dense_nll", r.DenseNll);
            w.WriteNumber("specee_nll", r.SpecEENll);
            w.WriteNumber("nll_ratio", r.NllRatio);
            w.WriteNumber("agreement", r.Agreement);
            w.WriteNumber("dense_accuracy", r.DenseAccuracy);
            w.WriteNumber("specee_accuracy", r.SpecEEAccuracy);
            w.WriteNumber("avg_layers", r.AverageLayers);
            w.WriteNumber("avg_layers_decode", r.AverageLayersDecode);
            w.WriteStartArray("exit_histogram");
            foreach (long c in r.ExitHistogram) w.WriteNumberValue(c);
            w.WriteEndArray();
            w.WriteNumber("predictor_runs", r.PredictorRuns);
            w.WriteNumber("predictor_fired", r.PredictorFired);
            w.WriteNumber("verify_rejected", r.VerifyRejected);
            w.WriteNumber("early_exits", r.EarlyExits);
            w.WriteNumber("wrong_exits", r.WrongExits);
            w.WriteStartArray("offline_layers");
            foreach (int l in p.OfflineLayers) w.WriteNumberValue(l);
            w.WriteEndArray();
            w.WriteEndObject();
        }
        return System.Text.Encoding.UTF8.GetString(ms.ToArray());
    }
}
