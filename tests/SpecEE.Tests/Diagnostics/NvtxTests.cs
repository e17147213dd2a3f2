using System.Runtime.InteropServices;
using SpecEE.Core.Diagnostics;
using SpecEE.Core.EarlyExit;
using SpecEE.Core.Formats;
using SpecEE.Core.Generation;
using SpecEE.Cpu;
using SpecEE.Tests.Cuda;
using SpecEE.Tests.EarlyExit;

namespace SpecEE.Tests.Diagnostics;

/// <summary>
/// The NVTX ranges and marks the engine emits, recorded by native/nvtx's stand-in for libnvToolsExt (built with
/// the simulator by CMake). Without any NVTX library every call is a no-op.
/// </summary>
[NonParallelizable]
public unsafe class NvtxTests
{
    private nint _recorder;

    [SetUp]
    public void UseRecorder()
    {
        string? path = null;
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d != null && path == null; d = d.Parent)
        {
            string candidate = Path.Combine(d.FullName, "build", "native", "lib", "libspecee_nvtx_recorder.so");
            if (File.Exists(candidate)) path = candidate;
        }
        if (path == null || OperatingSystem.IsWindows())
            CudaTestSupport.Unavailable("SPECEE_REQUIRE_SIM", "build/native/lib/libspecee_nvtx_recorder.so is not built (cmake -S . -B build/native)");
        Assert.That(Nvtx.UseLibrary(path), Is.True, "the recorder exports the NVTX v2 names");
        _recorder = NativeLibrary.Load(path!);
        Clear();
    }

    [TearDown]
    public void RestoreDefault() => Nvtx.UseLibrary(null);

    private string Log() => Marshal.PtrToStringUTF8(((delegate* unmanaged<nint>)NativeLibrary.GetExport(_recorder, "nvtx_recorder_log"))())!;
    private void Clear() => ((delegate* unmanaged<void>)NativeLibrary.GetExport(_recorder, "nvtx_recorder_clear"))();

    [Test]
    public void RangesAndMarks_ReachTheLibrary_WithUtf8NamesCutAtACharacterBoundary()
    {
        using (Nvtx.Range("outer"))
        {
            using (Nvtx.Range("inner é")) Nvtx.Mark("here");
        }
        string longName = new string('x', 254) + "é"; // é is 2 UTF-8 bytes: only 254 + 0 fit in 255
        using (Nvtx.Range(longName)) { }
        Assert.That(Log(), Is.EqualTo($"push:outer;push:inner é;mark:here;pop;pop;push:{new string('x', 254)};pop;"));
    }

    [Test]
    public void Generation_EmitsAPrefillRange_AndOneRangePerDecodeStep()
    {
        var model = ModelLoader.Load(TestPaths.Fixture("stories260K.bin"));
        using var backend = new CpuDecoderBackend(model, threads: 1);
        Clear();
        Generator.Run(backend, [model.Config.BosId], new GenerationOptions { MaxNewTokens = 4, StopAtEos = false });
        Assert.That(Log(), Is.EqualTo("push:prefill;pop;" + string.Concat(Enumerable.Repeat("push:decode step;pop;", 3))));
    }

    [Test]
    public void SpecEESteps_MarkEveryEarlyExitWithItsLayer()
    {
        var model = DefaultModel.Model;
        using var backend = new CpuSpecEEBackend(model, DefaultModel.Eagle, DefaultModel.ShippedPredictors(), KvPolicy.Mask, threads: 1);
        Clear();
        Generator.Run(backend, [model.Config.BosId, 403, 407], new GenerationOptions { MaxNewTokens = 24, StopAtEos = false });
        string log = Log();
        var exits = backend.ExitLayers.Where(l => l < model.Config.NLayers - 1).Select(l => $"mark:specee exit at layer {l};").ToArray();
        Assert.That(exits, Is.Not.Empty, "the shipped predictors exit somewhere in 24 tokens");
        var marked = System.Text.RegularExpressions.Regex.Matches(log, "mark:specee exit at layer \\d+;").Select(m => m.Value).ToArray();
        Assert.That(marked, Is.EqualTo(exits), "one mark per early exit, in order, naming its layer");
    }
}
