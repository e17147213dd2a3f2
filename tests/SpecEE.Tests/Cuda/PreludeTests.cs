using System.Diagnostics;
using SpecEE.Cuda.Kernels;
using SpecEE.Cuda.Nvrtc;

namespace SpecEE.Tests.Cuda;

/// <summary>specee_prelude.cuh: embedded, complete under NVRTC, and the same names as the simulator's cudasim.h.</summary>
public class PreludeTests
{
    [Test]
    public void Prelude_IsEmbeddedAndGuardsTheSimulatorBuild()
    {
        string text = KernelSources.Prelude;
        Assert.That(text, Does.Contain("#if defined(SPECEE_CUDASIM)"));
        Assert.That(text, Does.Contain("#include \"cudasim.h\""));
        Assert.That(text, Does.Contain("#define SPECEE_REGISTER_KERNEL(name)"));
    }

    [Test]
    public void HalfApiKernel_CompilesUnderNvrtcWithEmptyLogAndNativeF16Instructions()
    {
        NvrtcCompiler nvrtc = CudaTestSupport.RequireNvrtc();

        CompiledKernel k = nvrtc.Compile(CudaTestSupport.HalfApiSource, "halfapi.cu", new NvrtcOptions(90, NvrtcTarget.Ptx));

        Assert.That(k.Log, Is.Empty);
        string ptx = k.PtxText;
        foreach (string instruction in new[] { "add.rn.f16", "sub.rn.f16", "mul.rn.f16", "fma.rn.f16", "cvt.rn.f16.f32", "cvt.f32.f16" })
            Assert.That(ptx, Does.Contain(instruction));
        Assert.That(nvrtc.Compile(CudaTestSupport.HalfApiSource, "halfapi.cu", new NvrtcOptions(80)).Log, Is.Empty, "sm_80 CUBIN");
    }

    [Test]
    public void HalfApiKernel_AlsoCompilesUnderCudasimHeaders()
    {
        // The simulator build: g++ with -DSPECEE_CUDASIM, native/cudasim first on the include path, cudasim.h forced in.
        string sim = Path.Combine(TestPaths.RepoRoot, "native", "cudasim");
        if (!File.Exists(Path.Combine(sim, "cudasim.h"))) Assert.Ignore("native/cudasim is not in this checkout");
        string source = TestPaths.TempFile("halfapi.cu");
        File.WriteAllText(source, CudaTestSupport.HalfApiSource);
        var psi = new ProcessStartInfo("g++")
        {
            ArgumentList = { "-std=c++17", "-Wall", "-Wextra", "-Werror", "-Wno-unused-parameter", "-DSPECEE_CUDASIM=1",
                "-I" + sim, "-I" + Path.Combine(sim, "include"), "-include", Path.Combine(sim, "cudasim.h"),
                "-x", "c++", "-fsyntax-only", source },
            RedirectStandardError = true,
            RedirectStandardOutput = true,
        };
        Process gxx;
        try { gxx = Process.Start(psi)!; }
        catch (System.ComponentModel.Win32Exception) { Assert.Ignore("g++ is not installed"); return; }
        string errors = gxx.StandardError.ReadToEnd();
        gxx.WaitForExit();
        Assert.That(gxx.ExitCode, Is.Zero, errors);
    }
}
