using SpecEE.Cuda.Device;
using SpecEE.Cuda.Nvrtc;

namespace SpecEE.Tests.Cuda;

/// <summary>Shared pieces of the CUDA tests: the kernels they compile, and skipping when NVRTC or a GPU is absent.</summary>
internal static class CudaTestSupport
{
    /// <summary>The shipped Kernels/SelfTest.cu (fp16 conversion, vector loads, warp shuffles).</summary>
    public static string SelfTestSource => SpecEE.Cuda.Kernels.KernelSources.Read(SpecEE.Cuda.Kernels.SelfTestKernel.FileName);

    /// <summary>
    /// Uses every half intrinsic and operator the prelude and cudasim.h both promise. One file serves both
    /// builds: the simulator's CTest compiles it with -Werror, these tests compile it with NVRTC.
    /// </summary>
    public static string HalfApiSource =>
        File.ReadAllText(Path.Combine(TestPaths.RepoRoot, "native", "cudasim", "tests", "kernels", "HalfApi.cu"));

    /// <summary>
    /// Ignores a test whose optional dependency is missing — or fails it where the environment says the
    /// dependency must be there (.ci/run sets SPECEE_REQUIRE_SIM=1 and SPECEE_REQUIRE_NVRTC=1, so CI cannot
    /// pass by silently skipping the simulator or NVRTC tests).
    /// </summary>
    public static void Unavailable(string requirement, string reason)
    {
        if (Environment.GetEnvironmentVariable(requirement) == "1") Assert.Fail($"{requirement}=1 but {reason}");
        Assert.Ignore(reason);
    }

    /// <summary>An NVRTC compiler with a cache in a fresh folder, or the test is ignored with the reason.</summary>
    public static NvrtcCompiler RequireNvrtc(string? cacheDirectory = null)
    {
        if (!NvrtcCompiler.IsAvailable(out string reason)) Unavailable("SPECEE_REQUIRE_NVRTC", reason);
        return new NvrtcCompiler(new KernelCache(cacheDirectory ?? TestPaths.FreshDirectory()));
    }

    /// <summary>The first GPU, or the test is ignored with the driver's reason.</summary>
    public static CudaDriverDevice RequireGpu()
    {
        try
        {
            return CudaDriverDevice.Open(0, new KernelCache(TestPaths.FreshDirectory()));
        }
        catch (SpecEE.Core.SpecEEException e) when (e.Message.StartsWith("no CUDA device", StringComparison.Ordinal))
        {
            Assert.Ignore(e.Message);
            throw; // unreachable: Assert.Ignore throws
        }
    }
}
