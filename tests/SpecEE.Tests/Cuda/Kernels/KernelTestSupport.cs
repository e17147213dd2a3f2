using SpecEE.Cuda.Device;

namespace SpecEE.Tests.Cuda.Kernels;

/// <summary>
/// Devices and data for the kernel tests: "sim" is the CPU simulator (ignored where libspecee_cudasim.so
/// is not built), "gpu" the first CUDA device (ignored without one). Fixtures take the kind as argument.
/// </summary>
internal static class KernelTestSupport
{
    public static IGpuDevice Open(string kind)
    {
        if (kind == "gpu") return CudaTestSupport.RequireGpu();
        if (!SimDevice.IsAvailable(out string why)) CudaTestSupport.Unavailable("SPECEE_REQUIRE_SIM", why);
        return SimDevice.Open(workerCount: 2);
    }

    /// <summary>n uniform values in [−scale, scale) from a fixed seed.</summary>
    public static float[] Uniform(int seed, int n, float scale)
    {
        var rng = new Random(seed);
        var a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float)(rng.NextDouble() * 2 - 1) * scale;
        return a;
    }

    /// <summary>The values rounded to fp16 and back (what an f16 weight holds).</summary>
    public static float[] RoundToHalf(float[] a) => a.Select(v => (float)(Half)v).ToArray();

    /// <summary>A device copy of <paramref name="values"/> (as fp16 when <paramref name="asHalf"/>).</summary>
    public static GpuBuffer Upload(IGpuDevice device, float[] values, bool asHalf = false)
    {
        if (asHalf)
        {
            Half[] h = values.Select(v => (Half)v).ToArray();
            GpuBuffer hb = device.Allocate(Math.Max(2L * h.Length, 16));
            device.CopyToDevice(hb.Ptr, h.AsSpan());
            return hb;
        }
        GpuBuffer b = device.Allocate(Math.Max(4L * values.Length, 16));
        device.CopyToDevice(b.Ptr, values.AsSpan());
        return b;
    }

    /// <summary>n floats of NaN (0xFFFFFFFF) plus <paramref name="guard"/> NaN floats after them.</summary>
    public static GpuBuffer NaNs(IGpuDevice device, int n, int guard = 8)
    {
        GpuBuffer b = device.Allocate(4L * (n + guard));
        device.Memset8(b.Ptr, 0xFF, 4L * (n + guard));
        return b;
    }

    public static float[] Download(IGpuDevice device, GpuBuffer buffer, int n)
    {
        var a = new float[n];
        device.CopyToHost(a.AsSpan(), buffer.Ptr);
        return a;
    }

    /// <summary>Fails listing the first mismatches of |actual − expected| ≤ atol + rtol·|expected| (NaN fails).</summary>
    public static void AssertClose(float[] actual, float[] expected, double atol, double rtol, string what)
    {
        Assert.That(actual.Length, Is.GreaterThanOrEqualTo(expected.Length), what);
        var bad = new List<string>();
        int count = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            double diff = Math.Abs((double)actual[i] - expected[i]);
            if (!(diff <= atol + rtol * Math.Abs(expected[i])))
            {
                count++;
                if (bad.Count < 8) bad.Add($"[{i}] {actual[i]:R} vs {expected[i]:R} (|Δ| {diff:E2})");
            }
        }
        if (count > 0) Assert.Fail($"{what}: {count} of {expected.Length} outside {atol:E1} + {rtol:E1}·|ref|: {string.Join("; ", bad)}");
    }

    /// <summary>The guard floats after an output of n floats are still NaN (no write past the end).</summary>
    public static void AssertGuardUntouched(IGpuDevice device, GpuBuffer buffer, int n, int guard = 8)
    {
        float[] all = Download(device, buffer, n + guard);
        for (int i = n; i < n + guard; i++) Assert.That(float.IsNaN(all[i]), Is.True, $"element {i} past the output end was written");
    }
}
