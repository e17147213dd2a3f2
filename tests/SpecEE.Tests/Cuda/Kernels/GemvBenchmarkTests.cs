using SpecEE.Core.Model;
using SpecEE.Cuda.Device;
using SpecEE.Cuda.Kernels;

namespace SpecEE.Tests.Cuda.Kernels;

/// <summary>
/// The GEMV benchmark entry point (tools/kernel-lab/README.md). On the simulator: tiny shapes, a smoke run of
/// the harness. On a GPU: Llama-2-7B shapes, the table printed (speed is reported, never asserted).
/// </summary>
[TestFixture("sim")]
[TestFixture("gpu")]
public class GemvBenchmarkTests(string kind)
{
    [Test]
    public void GemvBenchmark_ReportsMsGBpsAndPercentOfCopy([Values(WeightDType.F16, WeightDType.F32)] WeightDType dt)
    {
        using IGpuDevice device = KernelTestSupport.Open(kind);
        bool gpu = kind == "gpu";
        var shapes = gpu ? GemvBenchmark.Llama2_7B : [("tiny 64x128", GemvBenchmark.Op.GemvResidual, 64, 128), ("tiny gate/up 96x64", GemvBenchmark.Op.GateUpSwiGlu, 96, 64)];
        double copy = GemvBenchmark.CopyCeilingGBps(device, gpu ? 1L << 30 : 1L << 20);

        var rows = GemvBenchmark.Run(device, dt, shapes, iterations: gpu ? 50 : 2, flushBytes: gpu ? 256L << 20 : 0, copy);
        if (gpu && dt == WeightDType.F16)
            rows = [.. rows, .. GemvBenchmark.Run(device, dt, [("PTX " + shapes[0].Name, shapes[0].Op, shapes[0].Rows, shapes[0].Cols)], 50, 256L << 20, copy, usePtx: true)];

        TestContext.Out.WriteLine($"{dt}\n" + GemvBenchmark.Format(rows, device.Info.Name, copy));
        Assert.That(rows, Has.Count.GreaterThanOrEqualTo(shapes.Length));
        Assert.That(rows.Select(r => r.Ms), Has.All.GreaterThan(0.0));
    }
}
