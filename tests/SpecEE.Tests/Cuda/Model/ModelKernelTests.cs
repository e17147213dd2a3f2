using SpecEE.Core.Model;
using SpecEE.Cuda.Device;
using SpecEE.Cuda.Kernels;
using SpecEE.Cuda.Nvrtc;
using SpecEE.Tests.Cuda.Kernels;

namespace SpecEE.Tests.Cuda.Model;

/// <summary>The model's own small kernels: the benchmark weight fill and the in-graph step advance.</summary>
[TestFixture("sim")]
[TestFixture("gpu")]
public class ModelKernelTests(string kind)
{
    private IGpuDevice _device = null!;

    [SetUp]
    public void OpenDevice() => _device = KernelTestSupport.Open(kind);

    [TearDown]
    public void CloseDevice() => _device?.Dispose();

    [TestCase(WeightDType.F32, 10007)]
    [TestCase(WeightDType.F16, 10007)]
    [TestCase(WeightDType.F16, 4096 * 11)]
    public void FillRandom_MatchesCpuReference(WeightDType dtype, int n)
    {
        const uint seed = 0xC0FFEE;
        const float scale = 0.5f, offset = 0.25f;
        int elementBytes = dtype == WeightDType.F16 ? 2 : 4;
        using var fill = new FillRandomKernel(_device);
        using GpuBuffer buffer = _device.Allocate((long)(n + 8) * elementBytes);
        _device.Memset8(buffer.Ptr, 0xFF, (long)(n + 8) * elementBytes); // NaN (f32 and f16) everywhere
        using GpuStream stream = _device.CreateStream();
        fill.Launch(buffer.Ptr, n, dtype, seed, scale, offset, stream);
        _device.Synchronize(stream);

        var expected = new float[n];
        for (int i = 0; i < n; i++) expected[i] = FillRandomKernel.Reference(i, seed, scale, offset);
        Assert.That(expected.Min(), Is.GreaterThanOrEqualTo(offset - scale));
        Assert.That(expected.Max(), Is.LessThan(offset + scale));
        Assert.That(expected.Average(), Is.EqualTo(offset).Within(0.02), "uniform: the mean is the centre");
        float[] actual;
        if (dtype == WeightDType.F16)
        {
            var h = new Half[n + 8];
            _device.CopyToHost(h.AsSpan(), buffer.Ptr);
            actual = h.Select(v => (float)v).ToArray();
            for (int i = 0; i < n; i++) expected[i] = (float)(Half)expected[i];
        }
        else
        {
            actual = new float[n + 8];
            _device.CopyToHost(actual.AsSpan(), buffer.Ptr);
        }
        // The device may contract offset + scale·(2u − 1) into one FMA: one fp32 ulp, at most one fp16 ulp after rounding.
        KernelTestSupport.AssertClose(actual, expected, 1e-6, dtype == WeightDType.F16 ? 1e-3 : 1e-6, $"fill_uniform_{dtype}");
        Assert.That(actual[n..], Has.All.NaN, "nothing written past n");
    }

    [TestCase(0, 0, 6)]  // dense: depth = nLayers
    [TestCase(1, 2, 3)]  // exited after layer 2: depth = 3
    public void StepAdvance_CommitsDepthAndMovesToTheNextToken(int exited, int exitLayer, int expectedDepth)
    {
        const int nLayers = 6, maxSeq = 16, pos = 9;
        using var advance = new StepAdvanceKernel(_device);
        using GpuBuffer state = _device.Allocate(StepState.Bytes);
        using GpuBuffer depth = _device.Allocate(maxSeq * 4);
        _device.Memset8(depth.Ptr, 0xFF, maxSeq * 4); // −1: untouched entries stay −1
        int[] initial = new int[StepState.Count];
        initial[StepState.Token] = 5;
        initial[StepState.Pos] = pos;
        initial[StepState.SeqLen] = pos + 1;
        initial[StepState.Exited] = exited;
        initial[StepState.ExitLayer] = exitLayer;
        initial[StepState.NextToken] = 42;
        _device.CopyToDevice(state.Ptr, initial.AsSpan());
        using GpuStream stream = _device.CreateStream();
        advance.Launch(depth, state, nLayers, stream);
        _device.Synchronize(stream);

        var s = new int[StepState.Count];
        var d = new int[maxSeq];
        _device.CopyToHost(s.AsSpan(), state.Ptr);
        _device.CopyToHost(d.AsSpan(), depth.Ptr);
        Assert.That(d[pos], Is.EqualTo(expectedDepth));
        Assert.That(d.Where((_, i) => i != pos), Has.All.EqualTo(-1));
        Assert.That(s[StepState.Token], Is.EqualTo(42));
        Assert.That(s[StepState.Pos], Is.EqualTo(pos + 1));
        Assert.That(s[StepState.SeqLen], Is.EqualTo(pos + 2));
        Assert.That(s[StepState.Exited], Is.Zero);
        Assert.That(s[StepState.ExitLayer], Is.EqualTo(nLayers - 1));
        Assert.That(s[StepState.NextToken], Is.EqualTo(42), "the output field is left for the host to read");
    }
}

/// <summary>The model's kernel files compile with NVRTC for Ampere and Hopper with an empty log (no warnings).</summary>
public class ModelKernelNvrtcTests
{
    [TestCase(FillRandomKernel.FileName, 80)]
    [TestCase(FillRandomKernel.FileName, 90)]
    [TestCase(StepAdvanceKernel.FileName, 80)]
    [TestCase(StepAdvanceKernel.FileName, 90)]
    public void Compile_ModelKernelFile_EmptyLog(string file, int arch)
    {
        NvrtcCompiler nvrtc = CudaTestSupport.RequireNvrtc();
        CompiledKernel k = nvrtc.Compile(KernelSources.Read(file), file, new NvrtcOptions(arch));
        Assert.That(k.Log, Is.Empty, "no errors and no warnings");
        Assert.That(k.Image.Length, Is.GreaterThan(0));
    }
}
