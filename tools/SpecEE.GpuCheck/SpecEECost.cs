using SpecEE.Core.EarlyExit;
using SpecEE.Core.Model;
using SpecEE.Cuda.Device;
using SpecEE.Cuda.Kernels;
using SpecEE.Cuda.Model;
using static SpecEE.Tests.Cuda.Kernels.DecodeKernelHarness; // Upload, Random: the test sources are compiled in

namespace SpecEE.GpuCheck;

/// <summary>
/// What SpecEE's per-layer machinery costs on the device, against a dense token (design.md §5: the predictor path
/// must stay within 2–3 % of a token or it eats the gain): per scheduled layer final RMSNorm + exit_predictor; per
/// fire the full LM head + argmax; per step EAGLE's top-4 over the vocabulary. Random weights of the benchmark shape.
/// </summary>
internal static class SpecEECost
{
    public static void Run(IGpuDevice device, LlamaConfig config, WeightDType dtype, double denseMsPerToken, TextWriter log)
    {
        int dim = config.Dim, vocab = config.Vocab, iterations = device is SimDevice ? 5 : 200;
        using GpuStream stream = device.CreateStream();
        using var weights = CudaWeights.Random(device, config with { NLayers = 1 }, dtype, seed: 5, stream);
        using var rms = new RmsNormKernel(device);
        using var predictorKernel = new ExitPredictorKernel(device, dtype);
        using var gemv = new GemvKernel(device, dtype);
        using var argmax = new ArgmaxKernel(device);
        using var topk = new TopKKernel(device);
        var rng = new Random(3);
        var predictor = new ExitPredictor(Random(rng, 512 * 12, 0.5f), Random(rng, 512, 0.2f), Random(rng, 512, 0.1f), 0f);
        using var dPredictor = new DeviceExitPredictor(device, predictor);
        using GpuBuffer h = Upload(device, Random(rng, dim, 1f)), normed = device.Allocate(dim * 4L), logits = device.Allocate(vocab * 4L);
        using GpuBuffer state = device.Allocate(ExitPredictorKernel.StateFloats * 4L), output = device.Allocate(ExitPredictorKernel.OutputFloats * 4L);
        using GpuBuffer fire = device.Allocate(4), token = device.Allocate(4), candidates = Upload(device, new[] { 1, 2, 3, 4 });

        double Time(Action enqueue)
        {
            using GpuEvent start = device.CreateEvent(), stop = device.CreateEvent();
            enqueue(); // warm-up
            device.Record(start, stream);
            for (int i = 0; i < iterations; i++) enqueue();
            device.Record(stop, stream);
            device.Synchronize(stop);
            return device.ElapsedMilliseconds(start, stop) * 1000.0 / iterations;
        }

        predictorKernel.ResetStep(state, stream);
        double check = Time(() =>
        {
            rms.Launch(normed, h, weights.FinalNorm, 1, dim, config.NormEps, stream);
            predictorKernel.Launch(state, output, fire, normed, weights.Classifier, candidates, dPredictor, dim, vocab, 0.5f, stream);
        });
        double verify = Time(() =>
        {
            gemv.LmHead(logits.Ptr, weights.Classifier.Ptr, normed.Ptr, vocab, dim, stream);
            argmax.Launch(token.Ptr, logits.Ptr, vocab, stream);
        });
        double draft = Time(() => topk.Launch(candidates.Ptr, logits.Ptr, vocab, stream));
        string Share(double us) => denseMsPerToken > 0 ? $"{100 * us / (1000 * denseMsPerToken),5:F2} % of a dense token" : "";
        log.WriteLine($"  per scheduled layer (final norm + exit_predictor): {check,8:F2} µs  {Share(check)}");
        log.WriteLine($"  per fire (LM head + argmax):                       {verify,8:F2} µs  {Share(verify)}");
        log.WriteLine($"  per step (EAGLE top-4 over {vocab}):              {draft,8:F2} µs  {Share(draft)}");
    }
}
