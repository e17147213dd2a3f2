using System.Globalization;
using SpecEE.Core;
using SpecEE.Core.Model;
using SpecEE.Cuda.Device;
using SpecEE.Cuda.Nvrtc;

namespace SpecEE.GpuCheck;

/// <summary>
/// gpu-check [--device cuda|sim] [--out DIR] [--tests PREFIX]... [--no-tests] [--no-bench] [--bench-tokens N]
/// [--bench-prompt N] [--bench-repeats N]
/// 1. opens the device and says what it is (driver, NVRTC); 2. runs the CUDA tests (kernels against their CPU
/// references, whole-model generation against the CPU backend, graph vs eager) on it; 3. measures dense decode
/// on Llama-2-7B-shaped random fp16 weights (a small shape on the simulator). Writes report.md (and the test log)
/// to --out. Exit code: 0 when every selected test passed or was skipped, 1 otherwise.
/// </summary>
internal static class Program
{
    public static int Main(string[] args)
    {
        CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
        string device = "cuda", outDir = Environment.GetEnvironmentVariable("OUT") ?? ".";
        var prefixes = new List<string>();
        bool tests = true, bench = true;
        int benchTokens = 128, benchPrompt = 32, repeats = 3;
        for (int i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            switch (args[i])
            {
                case "--device": device = Next(); break;
                case "--out": outDir = Next(); break;
                case "--tests": prefixes.Add(Next()); break;
                case "--no-tests": tests = false; break;
                case "--no-bench": bench = false; break;
                case "--bench-tokens": benchTokens = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--bench-prompt": benchPrompt = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--bench-repeats": repeats = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                default: Console.Error.WriteLine($"gpu-check: unknown argument {args[i]}"); return 2;
            }
        }
        if (prefixes.Count == 0) prefixes.Add("SpecEE.Tests.Cuda");
        Directory.CreateDirectory(outDir);
        using var report = new StreamWriter(Path.Combine(outDir, "report.md"));
        var both = new TeeWriter(Console.Out, report);
        both.WriteLine($"# gpu-check {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC");
        bool ok = true;

        IGpuDevice gpu;
        try
        {
            gpu = device == "sim" ? SimDevice.Open() : CudaDriverDevice.Open();
        }
        catch (SpecEEException e)
        {
            both.WriteLine($"device: {e.Message}");
            return 1;
        }
        using (gpu)
        {
            GpuDeviceInfo info = gpu.Info;
            both.WriteLine($"device: {info.Name}, sm_{info.Arch}, {info.MultiprocessorCount} SMs, {info.TotalMemoryBytes >> 20} MiB, driver {info.DriverVersion}");
            both.WriteLine(NvrtcCompiler.IsAvailable(out string why) ? $"nvrtc: {new NvrtcCompiler(null).Version}" : $"nvrtc: unavailable ({why})");
        }

        if (tests)
        {
            both.WriteLine($"\n## tests ({string.Join(", ", prefixes)})\n```");
            using var testLog = new StreamWriter(Path.Combine(outDir, "tests.log"));
            var outcomes = TestRun.Run(prefixes, new TeeWriter(Console.Out, testLog));
            var byStatus = outcomes.GroupBy(o => o.Status).ToDictionary(g => g.Key, g => g.Count());
            foreach (var o in outcomes.Where(o => o.Status == "Failed"))
                report.WriteLine($"FAILED {o.Name}: {o.Message.Split('\n')[0]}");
            both.WriteLine("```");
            both.WriteLine($"tests: {outcomes.Count} run, {string.Join(", ", byStatus.Select(kv => $"{kv.Value} {kv.Key.ToLowerInvariant()}"))}, {outcomes.Sum(o => o.Seconds):F1} s");
            ok &= !byStatus.ContainsKey("Failed");
        }

        if (bench)
        {
            both.WriteLine("\n## dense decode speed (random weights, greedy on the device)\n```");
            try
            {
                using IGpuDevice dev = device == "sim" ? SimDevice.Open() : CudaDriverDevice.Open();
                bool sim = device == "sim";
                double copy = sim ? 0 : DenseSpeed.CopyCeilingGBps(dev, 1L << 30);
                both.WriteLine(sim ? "copy ceiling: not measured on the simulator" : $"copy ceiling: {copy:F0} GB/s (1 GiB device-to-device, read + write)");
                int tokens = sim ? Math.Min(benchTokens, 8) : benchTokens, prompt = sim ? Math.Min(benchPrompt, 4) : benchPrompt;
                LlamaConfig config = sim ? DenseSpeed.Tiny(prompt + tokens + 1) : DenseSpeed.Llama2_7B(prompt + tokens + 1);
                both.WriteLine($"shape: {config.Describe()}, prompt {prompt}, {tokens} new tokens, median of {repeats}");
                var results = DenseSpeed.Run(dev, config, WeightDType.F16, prompt, tokens, repeats, copy, both);
                both.WriteLine("```\n| mode | tok/s | ms/token | bytes/token | GB/s | % of copy |\n|---|---:|---:|---:|---:|---:|");
                foreach (var r in results)
                    both.WriteLine($"| {r.Mode} | {r.TokensPerSecond:F1} | {1000 / r.TokensPerSecond:F3} | {r.BytesPerToken / 1e9:F3} GB | {r.GBPerSecond:F0} | {r.PercentOfCopy:F1} |");
                both.WriteLine("\n## SpecEE's per-layer machinery on the device (same shape, f16)\n```");
                var graph = results.FirstOrDefault(r => r.Mode == "graph") ?? results[0];
                SpecEECost.Run(dev, config, WeightDType.F16, 1000 / graph.TokensPerSecond, both);
                both.WriteLine("```");
            }
            catch (SpecEEException e)
            {
                both.WriteLine($"```\nbench failed: {e.Message}");
                ok = false;
            }
        }
        both.WriteLine(ok ? "\nresult: OK" : "\nresult: FAILED");
        return ok ? 0 : 1;
    }

    /// <summary>Writes to two writers (console and report), flushing each line.</summary>
    private sealed class TeeWriter(TextWriter a, TextWriter b) : TextWriter
    {
        public override System.Text.Encoding Encoding => a.Encoding;
        public override void Write(char value) { a.Write(value); b.Write(value); }
        public override void Write(string? value) { a.Write(value); b.Write(value); }
        public override void WriteLine(string? value) { a.WriteLine(value); b.WriteLine(value); a.Flush(); b.Flush(); }
    }
}
