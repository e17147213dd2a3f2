using SpecEE.Cuda.Kernels;
using SpecEE.Cuda.Nvrtc;

namespace SpecEE.Tests.Cuda.Kernels;

/// <summary>Gemv.cu, Argmax.cu and Sample.cu compile under NVRTC for sm_80 and sm_90 with an empty log (no warnings).</summary>
public class GemvTokenNvrtcTests
{
    private static readonly string[] GemvEntries =
    [
        "gemv_residual_f16", "gemv_residual_f32", "lm_head_f16", "lm_head_f32", "gate_up_swiglu_f16", "gate_up_swiglu_f32",
        "gemv_residual_f16_batched", "gemv_residual_f32_batched", "lm_head_f16_batched", "lm_head_f32_batched",
        "gate_up_swiglu_f16_batched", "gate_up_swiglu_f32_batched",
    ];

    [Test]
    public void KernelFiles_CompileWithEmptyLog(
        [Values(GemvKernel.FileName, ArgmaxKernel.FileName, SampleKernel.FileName, ExitPredictorKernel.FileName)] string file,
        [Values(80, 90)] int arch)
    {
        NvrtcCompiler nvrtc = CudaTestSupport.RequireNvrtc();

        CompiledKernel cubin = nvrtc.Compile(KernelSources.Read(file), file, new NvrtcOptions(arch));

        Assert.That(cubin.Log, Is.Empty);
    }

    [Test]
    public void Gemv_Ptx_HasEveryEntryWith128BitNonCachingWeightLoads()
    {
        NvrtcCompiler nvrtc = CudaTestSupport.RequireNvrtc();

        string ptx = nvrtc.Compile(KernelSources.Read(GemvKernel.FileName), GemvKernel.FileName, new NvrtcOptions(90, NvrtcTarget.Ptx)).PtxText;

        foreach (string entry in GemvEntries) Assert.That(ptx, Does.Contain($".entry {entry}("), entry);
        Assert.That(ptx, Does.Contain("ld.global.nc.L1::no_allocate.v4.u32"), "weights: 16-byte loads that bypass L1 allocation");
        Assert.That(ptx, Does.Contain("ld.global.nc.v4.f32"), "x: 16-byte read-only loads");
        Assert.That(ptx, Does.Not.Contain("atom."), "no atomics: fixed reduction order");
    }
}
