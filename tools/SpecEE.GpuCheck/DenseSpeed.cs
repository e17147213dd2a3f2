using System.Diagnostics;
using SpecEE.Core.Model;
using SpecEE.Cuda.Device;
using SpecEE.Cuda.Model;

namespace SpecEE.GpuCheck;

/// <summary>One speed measurement of dense greedy decode.</summary>
internal sealed record SpeedResult(string Mode, int Tokens, double Seconds, double TokensPerSecond, double BytesPerToken,
    double GBPerSecond, double PercentOfCopy);

/// <summary>
/// Dense decode speed on random weights made on the device, reported like gpt-fast: tok/s, bytes read per
/// token × tok/s = achieved GB/s, and that as a share of a measured device-to-device copy's bandwidth.
/// </summary>
internal static class DenseSpeed
{
    /// <summary>Llama-2-7B's shape (Touvron et al. 2023): what design.md §5's roofline is stated for.</summary>
    public static LlamaConfig Llama2_7B(int maxSeq) => new()
    {
        Dim = 4096, HiddenDim = 11008, NLayers = 32, NHeads = 32, NKvHeads = 32, Vocab = 32000, MaxSeq = maxSeq,
        NormEps = 1e-5f, RopeTheta = 10000f, TiedClassifier = false,
    };

    /// <summary>A small shape for trying this code on the simulator.</summary>
    public static LlamaConfig Tiny(int maxSeq) => new()
    {
        Dim = 256, HiddenDim = 688, NLayers = 2, NHeads = 4, NKvHeads = 2, Vocab = 1024, MaxSeq = maxSeq,
        NormEps = 1e-5f, RopeTheta = 10000f, TiedClassifier = false,
    };

    /// <summary>GB/s of a device-to-device copy of <paramref name="bytes"/> bytes, counting bytes read plus written (median of 10).</summary>
    public static double CopyCeilingGBps(IGpuDevice device, long bytes)
    {
        using GpuBuffer a = device.Allocate(bytes), b = device.Allocate(bytes);
        device.Memset8(a.Ptr, 0x3c, bytes);
        using GpuStream stream = device.CreateStream();
        using GpuEvent start = device.CreateEvent(), stop = device.CreateEvent();
        for (int i = 0; i < 3; i++) device.CopyDeviceToDeviceAsync(b.Ptr, a.Ptr, bytes, stream);
        var gbps = new double[10];
        for (int i = 0; i < gbps.Length; i++)
        {
            device.Record(start, stream);
            device.CopyDeviceToDeviceAsync(b.Ptr, a.Ptr, bytes, stream);
            device.Record(stop, stream);
            device.Synchronize(stop);
            gbps[i] = 2.0 * bytes / (device.ElapsedMilliseconds(start, stop) / 1000.0) / 1e9;
        }
        Array.Sort(gbps);
        return gbps[gbps.Length / 2];
    }

    /// <summary>
    /// Prefills <paramref name="promptTokens"/> random ids, then decodes <paramref name="newTokens"/> greedily on the
    /// device, eager launches and graph replays alike; returns one result per mode (median of <paramref name="repeats"/>).
    /// </summary>
    public static List<SpeedResult> Run(IGpuDevice device, LlamaConfig config, WeightDType dtype, int promptTokens, int newTokens,
        int repeats, double copyGBps, TextWriter log)
    {
        var sw = Stopwatch.StartNew();
        using GpuStream stream = device.CreateStream();
        using var weights = CudaWeights.Random(device, config, dtype, seed: 7, stream);
        log.WriteLine($"  random {dtype} weights: {weights.TotalBytes / 1e9:F2} GB made on the device in {sw.Elapsed.TotalSeconds:F1} s");
        var rng = new Random(11);
        int[] prompt = Enumerable.Range(0, promptTokens).Select(_ => rng.Next(3, config.Vocab)).ToArray();
        var ids = new int[newTokens];
        var results = new List<SpeedResult>();
        // eager launches, graph replays, and graph replays with the handwritten PTX GEMV (f16 on a GPU only).
        bool ptxPossible = dtype == WeightDType.F16 && device is CudaDriverDevice;
        foreach (string mode in ptxPossible ? new[] { "eager", "graph", "graph+ptx" } : ["eager", "graph"])
        {
            using var llama = new CudaLlama(device, weights, promptTokens + newTokens + 1, ownsWeights: false, usePtxGemv: mode == "graph+ptx");
            llama.UseGraph = mode != "eager";
            var seconds = new double[repeats];
            double prefillSeconds = 0;
            for (int r = -1; r < repeats; r++) // r = −1: warm-up (module load, graph capture)
            {
                llama.Reset();
                var p = Stopwatch.StartNew();
                ReadOnlySpan<float> logits = llama.Prefill(prompt, 0);
                prefillSeconds = p.Elapsed.TotalSeconds;
                int first = SpecEE.Core.Sampling.Sampler.Argmax(logits);
                var t = Stopwatch.StartNew();
                llama.DecodeOnDevice(first, promptTokens, ids);
                if (r >= 0) seconds[r] = t.Elapsed.TotalSeconds;
            }
            Array.Sort(seconds);
            double s = seconds[repeats / 2];
            // Bytes per token: every weight once, plus the K and V rows attention reads at the mean position.
            double meanPos = promptTokens + newTokens / 2.0;
            double bytes = weights.BytesPerToken + 2.0 * config.NLayers * meanPos * config.KvDim * sizeof(float);
            double tps = newTokens / s;
            double gbps = bytes * tps / 1e9;
            results.Add(new SpeedResult(mode, newTokens, s, tps, bytes, gbps, copyGBps > 0 ? 100 * gbps / copyGBps : 0));
            log.WriteLine($"  {mode,-9}: {tps,9:F1} tok/s  {gbps,8:F1} GB/s  ({results[^1].PercentOfCopy:F1} % of copy)  " +
                $"prefill {promptTokens / prefillSeconds:F0} tok/s  {llama.LaunchesPerStep} launches/step  ids[0..4] = {string.Join(",", ids.Take(4))}");
        }
        return results;
    }
}
