using SpecEE.Cpu;
using SpecEE.Cuda.Device;
using SpecEE.Cuda.Kernels;
using static SpecEE.Tests.Cuda.Kernels.DecodeKernelHarness;

namespace SpecEE.Tests.Cuda.Kernels;

/// <summary>rmsnorm_f32 against SpecEE.Cpu's CpuKernels.RmsNorm, the CPU backend's own norm.</summary>
public class RmsNormKernelTests
{
    private static IEnumerable<TestCaseData> Cases() =>
        from d in Devices
        from c in new[] { (dim: 128, rows: 1), (dim: 64, rows: 1), (dim: 197, rows: 3), (dim: 4096, rows: 2) }
        select new TestCaseData(d, c.dim, c.rows).SetArgDisplayNames(d, $"dim {c.dim}", $"rows {c.rows}");

    [TestCaseSource(nameof(Cases))]
    public void RmsNorm_F32_MatchesCpuReference(string kind, int dim, int rows)
    {
        using IGpuDevice device = Open(kind);
        using var kernel = new RmsNormKernel(device);
        var rng = new Random(dim * 31 + rows);
        float[] x = Random(rng, rows * dim, 3f);
        float[] w = Random(rng, dim, 1.5f);
        const float eps = 1e-5f;
        var expected = new float[rows * dim];
        for (int r = 0; r < rows; r++)
            CpuKernels.RmsNorm(x.AsSpan(r * dim, dim), w, eps, expected.AsSpan(r * dim, dim));

        using GpuBuffer dX = Upload(device, x), dW = Upload(device, w);
        using GpuBuffer y = NaNBuffer(device, rows * dim);
        using GpuStream stream = device.CreateStream();
        kernel.Launch(y, dX, dW, rows, dim, eps, stream);
        AssertClose(Download(device, y, rows * dim), expected, 1e-6f, 2e-6f, "rmsnorm");

        // In place (y = x), as the final norm may run.
        kernel.Launch(dX, dX, dW, rows, dim, eps, stream);
        AssertClose(Download(device, dX, rows * dim), expected, 1e-6f, 2e-6f, "rmsnorm in place");
    }

    [Test]
    public void RmsNorm_AllZeroRow_GivesZerosNotNaN()
    {
        // mean(x²) = 0: the eps keeps the scale finite (1/sqrt(eps)), exactly as on the CPU.
        using IGpuDevice device = Open("sim");
        using var kernel = new RmsNormKernel(device);
        using GpuBuffer x = Upload(device, new float[64]), w = Upload(device, Enumerable.Repeat(1f, 64).ToArray());
        using GpuBuffer y = NaNBuffer(device, 64);
        using GpuStream stream = device.CreateStream();

        kernel.Launch(y, x, w, 1, 64, 1e-5f, stream);

        Assert.That(Download(device, y, 64), Has.All.EqualTo(0f));
    }
}
