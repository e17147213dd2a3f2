using SpecEE.Core;
using SpecEE.Core.EarlyExit;
using SpecEE.Core.Model;
using SpecEE.Cuda.Device;
using SpecEE.Cuda.Interop;

namespace SpecEE.Cuda.Kernels;

/// <summary>
/// Launcher of ExitPredictor.cu (<c>exit_predictor_{f16,f32}</c>): SpecEE's exit decision at one scheduled layer
/// in one block — candidate logits from the normed state, the 12 features with the step's Δ state, the MLP and
/// the threshold. See the .cu header for the formulas and shapes.
/// </summary>
public sealed class ExitPredictorKernel : IDisposable
{
    /// <summary>Source file name; also the simulator's module name.</summary>
    public const string FileName = "ExitPredictor.cu";

    /// <summary>Threads per block: 8 warps; 4 of them take one candidate dot each, all share the hidden units.</summary>
    public const int BlockSize = 256;

    /// <summary>f32 values of the step state: pPrev[4] and the hasPrev flag.</summary>
    public const int StateFloats = ExitFeatures.CandidateCount + 1;

    /// <summary>f32 values written per launch: the 12 features, the logit and the probability.</summary>
    public const int OutputFloats = ExitFeatures.FeatureCount + 2;

    private readonly IGpuDevice _device;
    private readonly GpuModule _module;
    private readonly GpuFunction _function;

    /// <summary>Loads the variant for an LM head stored as <paramref name="lmHeadType"/>.</summary>
    public ExitPredictorKernel(IGpuDevice device, WeightDType lmHeadType)
    {
        _device = device;
        LmHeadType = lmHeadType;
        _module = device.LoadCudaSource(KernelSources.Read(FileName), FileName);
        _function = device.GetFunction(_module, lmHeadType == WeightDType.F16 ? "exit_predictor_f16" : "exit_predictor_f32");
    }

    /// <summary>Weight type of the LM head this instance reads.</summary>
    public WeightDType LmHeadType { get; }

    /// <summary>Starts a decode step: the next launch takes Δ = p (zeroes <paramref name="state"/>, [5] f32).</summary>
    public void ResetStep(GpuBuffer state, GpuStream stream)
    {
        Require(state, StateFloats * 4L, nameof(state));
        _device.Memset32Async(state.Ptr, 0, StateFloats, stream);
    }

    /// <summary>
    /// One scheduled layer: reads <paramref name="normed"/> [dim] f32, the LM head [vocab, dim], the 4 int32
    /// <paramref name="candidates"/> and <paramref name="predictor"/>; updates <paramref name="state"/> [5];
    /// writes <paramref name="output"/> [14] f32 (features, logit, probability) and <paramref name="fire"/> [1] int32.
    /// </summary>
    public unsafe void Launch(GpuBuffer state, GpuBuffer output, GpuBuffer fire, GpuBuffer normed, GpuBuffer lmHead,
        GpuBuffer candidates, DeviceExitPredictor predictor, int dim, int vocab, float threshold, GpuStream stream)
    {
        ArgumentNullException.ThrowIfNull(predictor);
        if (dim <= 0 || vocab <= 0) throw new ArgumentOutOfRangeException(nameof(dim), $"exit_predictor needs dim > 0 and vocab > 0, got {dim}, {vocab}");
        if (float.IsNaN(threshold)) throw new ArgumentOutOfRangeException(nameof(threshold), "the threshold is NaN");
        Require(state, StateFloats * 4L, nameof(state));
        Require(output, OutputFloats * 4L, nameof(output));
        Require(fire, 4, nameof(fire));
        Require(normed, dim * 4L, nameof(normed));
        Require(lmHead, (long)vocab * dim * (LmHeadType == WeightDType.F16 ? 2 : 4), nameof(lmHead));
        Require(candidates, ExitFeatures.CandidateCount * 4L, nameof(candidates));

        var pState = state.Ptr; var pOut = output.Ptr; var pFire = fire.Ptr; var pNormed = normed.Ptr;
        var pLm = lmHead.Ptr; var pCand = candidates.Ptr;
        var pUp = predictor.Up; var pUpBias = predictor.UpBias; var pDown = predictor.Down;
        float downBias = predictor.DownBias, thr = threshold;
        int hidden = predictor.Hidden, d = dim, v = vocab;
        nint* args = stackalloc nint[]
        {
            (nint)(&pState), (nint)(&pOut), (nint)(&pFire), (nint)(&pNormed), (nint)(&pLm), (nint)(&pCand),
            (nint)(&pUp), (nint)(&pUpBias), (nint)(&pDown), (nint)(&downBias), (nint)(&hidden), (nint)(&d), (nint)(&v), (nint)(&thr),
        };
        _device.Launch(_function, 1, BlockSize, 0, stream, new ReadOnlySpan<nint>(args, 14));
    }

    private static void Require(GpuBuffer buffer, long bytes, string name)
    {
        if (buffer.Bytes < bytes) throw new ArgumentException($"{name} holds {buffer.Bytes} bytes, exit_predictor needs {bytes}", name);
    }

    public void Dispose() => _module.Dispose();
}

/// <summary>
/// One layer's exit predictor in device memory, fp32: up [hidden, 12], upBias [hidden], down [hidden] in one
/// buffer; the down bias stays on the host (a launch argument).
/// </summary>
public sealed class DeviceExitPredictor : IDisposable
{
    private readonly GpuBuffer _buffer;

    /// <summary>Uploads <paramref name="predictor"/> (synchronously).</summary>
    public DeviceExitPredictor(IGpuDevice device, ExitPredictor predictor)
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentNullException.ThrowIfNull(predictor);
        Hidden = predictor.Hidden;
        DownBias = predictor.DownBias;
        int up = Hidden * ExitPredictor.InputSize;
        var packed = new float[up + 2 * Hidden];
        predictor.UpWeight.CopyTo(packed);
        predictor.UpBias.CopyTo(packed.AsSpan(up));
        predictor.DownWeight.CopyTo(packed.AsSpan(up + Hidden));
        _buffer = device.Allocate(packed.Length * 4L);
        try { device.CopyToDevice(_buffer.Ptr, packed.AsSpan()); }
        catch { _buffer.Dispose(); throw; }
        Up = _buffer.Ptr;
        UpBias = _buffer.Ptr + up * 4L;
        Down = _buffer.Ptr + (up + Hidden) * 4L;
    }

    /// <summary>Hidden units (512 in SpecEE).</summary>
    public int Hidden { get; }
    /// <summary>The output bias.</summary>
    public float DownBias { get; }
    /// <summary>Device address of up [hidden, 12].</summary>
    public CUdeviceptr Up { get; }
    /// <summary>Device address of upBias [hidden].</summary>
    public CUdeviceptr UpBias { get; }
    /// <summary>Device address of down [hidden].</summary>
    public CUdeviceptr Down { get; }

    public void Dispose() => _buffer.Dispose();
}
