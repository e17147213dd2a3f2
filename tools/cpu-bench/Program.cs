// Usage: dotnet run --project tools/cpu-bench -c Release -- <model file or dir> [threads=0] [minParallelMacs=default] [rounds=3]
// Prints llama-bench-like figures: tg128 (128 greedy tokens after BOS) and pp64 (a 64-token prompt), median of 5 repeats
// after 2 warm-ups, per round. Several rounds because a shared machine's noise shows up as round-to-round spread.
using SpecEE.Core.Formats;
using SpecEE.Cpu;

if (args.Length < 1)
{
    Console.Error.WriteLine("usage: cpu-bench <model file or dir> [threads=0] [minParallelMacs|default] [rounds=3]");
    return 2;
}
var model = ModelLoader.Load(args[0]);
int threads = args.Length > 1 ? int.Parse(args[1]) : 0;
long? minMacs = args.Length > 2 && args[2] != "default" ? long.Parse(args[2]) : null;
int rounds = args.Length > 3 ? int.Parse(args[3]) : 3;
int bos = model.Config.BosId;
// A fixed, tokenizer-free prompt: BOS then ids spread over the vocabulary.
int[] prompt64 = [bos, .. Enumerable.Range(1, 63).Select(i => (i * 37 + 260) % model.Config.Vocab)];
Console.WriteLine($"{model.SourcePath}: {model.Config.Describe()}");
for (int r = 0; r < rounds; r++)
{
    var tg = DenseBenchmark.Run(model, [bos], newTokens: 128, repeats: 5, warmup: 2, threads: threads, minParallelMacs: minMacs);
    var pp = DenseBenchmark.Run(model, prompt64, newTokens: 1, repeats: 5, warmup: 2, threads: threads, minParallelMacs: minMacs);
    Console.WriteLine($"threads={tg.Threads} tg128 {tg.DecodeTokensPerSecond,7:F0} tok/s [{string.Join(" ", tg.DecodeRuns.Select(x => x.ToString("F0")))}]" +
                      $"   pp64 {pp.PrefillTokensPerSecond,7:F0} tok/s [{string.Join(" ", pp.PrefillRuns.Select(x => x.ToString("F0")))}]");
}
return 0;
