using SpecEE.Cuda.Device;
using SpecEE.Cuda.Nvrtc;

namespace SpecEE.Tests.Cuda;

/// <summary>Shared pieces of the CUDA tests: the kernels they compile, and skipping when NVRTC or a GPU is absent.</summary>
internal static class CudaTestSupport
{
    /// <summary>The shipped Kernels/SelfTest.cu (fp16 conversion, vector loads, warp shuffles).</summary>
    public static string SelfTestSource => SpecEE.Cuda.Kernels.KernelSources.Read(SpecEE.Cuda.Kernels.SelfTestKernel.FileName);

    /// <summary>Uses every half intrinsic and operator the prelude and cudasim.h both promise.</summary>
    public const string HalfApiSource = """
        #include "specee_prelude.cuh"

        // Touches every half intrinsic and operator the prelude promises (it must compile with no warnings).
        extern "C" __global__ void half_api(float* __restrict__ out, __half* __restrict__ h, __half2* __restrict__ h2, int n)
        {
            int i = blockIdx.x * blockDim.x + threadIdx.x;
            if (i >= n) return;
            __half a = h[i], b = __float2half(0.5f), c = __float2half_rn(-2.0f);
            __half d = __hfma(a, b, c) + __hadd(a, b) - __hsub(a, c) * __hmul(b, c) / __hdiv(a, b);
            d = __hmax(d, __hmin(a, -b));
            d += a;
            d *= b;
            __half e = __half(1.5f);
            __half f = __ushort_as_half(__half_as_ushort(e));
            __half g = __short_as_half(__half_as_short(f));
            bool cmp = (d == e) || (d != f) || (d < g) || (d > g) || (d <= g) || (d >= g) || __hisnan(d) || __hisinf(d) != 0;
            __half2 p = __floats2half2_rn(__half2float(d), cmp ? 1.0f : 0.0f);
            __half2 q = __hfma2(__hadd2(p, __float2half2_rn(2.0f)), __hmul2(p, __half2half2(g)), __hsub2(p, __halves2half2(a, b)));
            q = q + p * __float22half2_rn(make_float2(0.25f, 4.0f));
            float2 r = __half22float2(q);
            float s = static_cast<float>(__low2half(q)) + __low2float(q) + __high2float(q) + __half2float(__high2half(q));
            h2[i] = q;
            out[i] = r.x + r.y + s;
        }
        """;

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
        return new NvrtcCompiler(new KernelCache(cacheDirectory ?? FreshDirectory()));
    }

    /// <summary>The first GPU, or the test is ignored with the driver's reason.</summary>
    public static CudaDriverDevice RequireGpu()
    {
        try
        {
            return CudaDriverDevice.Open(0, new KernelCache(FreshDirectory()));
        }
        catch (SpecEE.Core.SpecEEException e) when (e.Message.StartsWith("no CUDA device", StringComparison.Ordinal))
        {
            Assert.Ignore(e.Message);
            throw; // unreachable: Assert.Ignore throws
        }
    }

    /// <summary>A new empty folder under the temp directory.</summary>
    public static string FreshDirectory()
    {
        string dir = Path.Combine(Path.GetTempPath(), "specee-tests-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(dir);
        return dir;
    }
}
