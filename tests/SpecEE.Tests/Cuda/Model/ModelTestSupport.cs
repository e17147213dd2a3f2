using System.Diagnostics;
using System.Text.Json;
using SpecEE.Core.Formats;
using SpecEE.Core.Model;
using SpecEE.Core.Sampling;
using SpecEE.Cpu;
using SpecEE.Cuda.Device;
using SpecEE.Cuda.Model;
using SpecEE.Tests.Cuda.Kernels;

namespace SpecEE.Tests.Cuda.Model;

/// <summary>
/// Shared pieces of the whole-model CUDA tests: the two real models (loaded once per process), their golden
/// references, the CPU backend's greedy run with its logits (the f16 reference), and the tie rule.
/// </summary>
internal static class ModelTestSupport
{
    private static readonly Lazy<LlamaModel> Stories = new(() => ModelLoader.Load(TestPaths.Fixture("stories260K.bin")));
    private static readonly Lazy<LlamaModel> TinyStories = new(() => ModelLoader.Load(TestPaths.DefaultModelDir));

    public static LlamaModel Stories260K => Stories.Value;
    public static LlamaModel TinyStories16L => TinyStories.Value;

    public static JsonElement Reference(string fixture) =>
        JsonDocument.Parse(File.ReadAllText(TestPaths.Fixture(fixture))).RootElement;

    public static int[] Ints(JsonElement e, string name) => e.GetProperty(name).EnumerateArray().Select(x => x.GetInt32()).ToArray();

    public static float[] Floats(JsonElement e, string name) => e.GetProperty(name).EnumerateArray().Select(x => x.GetSingle()).ToArray();

    /// <summary>The device of this fixture kind ("sim" or "gpu"), or the test is ignored.</summary>
    public static IGpuDevice Open(string kind) => KernelTestSupport.Open(kind);

    /// <summary>
    /// CPU greedy continuation: prefill <paramref name="prompt"/>, then argmax steps until <paramref name="count"/> ids.
    /// Returns the ids and, for each, the logits it was picked from.
    /// </summary>
    public static (int[] Ids, float[][] Logits) CpuGreedy(LlamaModel model, int[] prompt, int count)
    {
        using var llama = new CpuLlama(model, 0, 1);
        var ids = new List<int>();
        var logits = new List<float[]>();
        float[] l = llama.Prefill(prompt, 0).ToArray();
        for (int pos = prompt.Length; ; pos++)
        {
            logits.Add(l);
            ids.Add(Sampler.Argmax(l));
            if (ids.Count == count) break;
            l = llama.Forward(ids[^1], pos).ToArray();
        }
        return (ids.ToArray(), logits.ToArray());
    }

    /// <summary>
    /// Device greedy continuation through <see cref="CudaLlama"/>: prefill on the device, the first id from the
    /// prefill logits (host argmax of device logits), the rest by <see cref="CudaLlama.DecodeOnDevice"/> (argmax on the
    /// device, graph replays, 4 bytes back per token).
    /// </summary>
    public static int[] DeviceGreedy(CudaLlama llama, int[] prompt, int count, out double seconds)
    {
        var sw = Stopwatch.StartNew();
        llama.Reset();
        var ids = new int[count];
        ids[0] = Sampler.Argmax(llama.Prefill(prompt, 0));
        llama.DecodeOnDevice(ids[0], prompt.Length, ids.AsSpan(1));
        seconds = sw.Elapsed.TotalSeconds;
        return ids;
    }

    /// <summary>
    /// Device ids must equal the CPU's. Where they first differ, that step must be a genuine tie on the CPU: the
    /// device's id is the CPU's runner-up and the top-2 gap is within fp32 rounding of a dot product of length
    /// dim (4·dim·2^−24·max(1, |top|)); after a tie the sequences legitimately diverge, so the check stops there.
    /// </summary>
    public static void AssertEqualOrGenuineTie(int[] device, int[] cpu, float[][] cpuLogits, int dim, string what)
    {
        Assert.That(device, Has.Length.EqualTo(cpu.Length), what);
        int i = 0;
        while (i < cpu.Length && device[i] == cpu[i]) i++;
        if (i == cpu.Length) return;
        float[] l = cpuLogits[i];
        int top = Sampler.Argmax(l);
        float second = l.Where((_, j) => j != top).Max();
        double gap = l[top] - second, allowed = 4.0 * dim * Math.Pow(2, -24) * Math.Max(1, Math.Abs(l[top]));
        TestContext.Out.WriteLine($"{what}: first difference at {i}: device {device[i]}, cpu {cpu[i]}; CPU top-2 gap {gap:E3} (tie bound {allowed:E3})");
        Assert.That(l[device[i]], Is.EqualTo(second), $"{what}: at step {i} the device picked {device[i]}, which is not the CPU's runner-up");
        Assert.That(gap, Is.LessThanOrEqualTo(allowed), $"{what}: ids differ at step {i} (device {device[i]}, cpu {cpu[i]}) and the CPU's top-2 gap {gap:E3} is no tie");
    }
}
