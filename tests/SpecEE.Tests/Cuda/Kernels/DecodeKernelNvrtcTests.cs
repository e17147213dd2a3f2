using SpecEE.Cuda.Kernels;
using SpecEE.Cuda.Nvrtc;

namespace SpecEE.Tests.Cuda.Kernels;

/// <summary>
/// Every decode-kernel file (embed, rmsnorm, qkv_rope, attention) compiles with NVRTC for sm_80 and sm_90 with
/// an empty log (no warnings) and exports its kernels. Ignored where libnvrtc is absent.
/// </summary>
public class DecodeKernelNvrtcTests
{
    private static readonly (string File, string[] Kernels)[] Files =
    [
        (EmbedKernel.FileName, ["embed_f16", "embed_f32"]),
        (RmsNormKernel.FileName, ["rmsnorm_f32"]),
        (QkvRopeKernel.FileName, ["qkv_rope_f16", "qkv_rope_f32", "qkv_rope_f16_batch", "qkv_rope_f32_batch"]),
        (AttentionKernel.FileName, ["attention_f32", "attention_combine_f32"]),
    ];

    private static IEnumerable<TestCaseData> Cases() =>
        from f in Files from arch in new[] { 80, 90 }
        select new TestCaseData(f.File, arch, f.Kernels).SetArgDisplayNames(f.File, $"sm_{arch}");

    [TestCaseSource(nameof(Cases))]
    public void Compile_DecodeKernelFile_EmptyLogAndExportsKernels(string file, int arch, string[] kernels)
    {
        NvrtcCompiler nvrtc = CudaTestSupport.RequireNvrtc();

        CompiledKernel k = nvrtc.Compile(KernelSources.Read(file), file, new NvrtcOptions(arch, NvrtcTarget.Ptx));

        Assert.That(k.Log, Is.Empty, "no errors and no warnings");
        foreach (string name in kernels)
            Assert.That(k.PtxText, Does.Contain($".entry {name}("), $"{name} is exported unmangled");
        if (file == QkvRopeKernel.FileName)
            Assert.That(k.PtxText, Does.Contain("ld.global.nc.v4.u32"), "weights are read as 128-bit packets on the read-only path");
    }
}
