using SpecEE.Cuda.Device;
using SpecEE.Cuda.Nvrtc;

namespace SpecEE.Tests.Cuda;

/// <summary>Shared pieces of the CUDA tests: the sample kernel, and skipping when NVRTC or a GPU is absent.</summary>
internal static class CudaTestSupport
{
    /// <summary>
    /// Exercises the prelude: float→half→float rounding, a float4 vector load, an int4 load and a
    /// butterfly warp reduction. For warp w (lanes i = 32w .. 32w+31, all &lt; n):
    ///   out[w] = Σ_i (float(half(x[i])) + v[i].x + v[i].y + v[i].z + v[i].w + (k[i].x - k[i].w))
    ///   rounded[i] = half(x[i]);  pair[w] = (half(out[w]), half(-out[w]))
    /// One thread per element, n a multiple of 32.
    /// </summary>
    public const string SampleSource = """
        #include "specee_prelude.cuh"

        extern "C" __global__ void sample_f16(float* __restrict__ out, __half* __restrict__ rounded,
                                              __half2* __restrict__ pair, const float* __restrict__ x,
                                              const float4* __restrict__ v, const int4* __restrict__ k, int n)
        {
            int i = blockIdx.x * blockDim.x + threadIdx.x;
            float acc = 0.0f;
            if (i < n) {
                __half h = __float2half(x[i]);
                rounded[i] = h;
                float4 q = v[i];
                int4 c = k[i];
                acc = __half2float(h) + q.x + q.y + q.z + q.w + (float)(c.x - c.w);
            }
            for (int offset = 16; offset > 0; offset >>= 1)
                acc += __shfl_xor_sync(0xffffffffu, acc, offset);
            if ((threadIdx.x & 31) == 0 && i < n) {
                out[i >> 5] = acc;
                pair[i >> 5] = __floats2half2_rn(acc, -acc);
                float2 back = __half22float2(pair[i >> 5]);
                if (back.x != __low2float(pair[i >> 5]) || back.y != __high2float(pair[i >> 5])) out[i >> 5] = -1.0e30f;
            }
        }
        SPECEE_REGISTER_KERNEL(sample_f16)
        """;

    /// <summary>An NVRTC compiler with a cache in a fresh folder, or the test is ignored with the reason.</summary>
    public static NvrtcCompiler RequireNvrtc(string? cacheDirectory = null)
    {
        if (!NvrtcCompiler.IsAvailable(out string reason)) Assert.Ignore(reason);
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
