using System.Globalization;
using System.Text;
using SpecEE.Core.Model;
using SpecEE.Cuda.Device;

namespace SpecEE.Cuda.Kernels;

/// <summary>
/// Times the decode GEMVs at given shapes and reports them like gpt-fast: ms per launch, achieved GB/s
/// (bytes the kernel must move ÷ time) and % of a measured device-to-device copy ceiling (design.md §5).
/// Weights rotate over enough copies to exceed <c>flushBytes</c>, so a matrix smaller than L2 (4096×4096
/// f16 = 32 MiB vs the H200's 50 MiB L2) is not served from cache on the next launch.
/// </summary>
public static class GemvBenchmark
{
    /// <summary>Which kernel a row measures.</summary>
    public enum Op { GemvResidual, GateUpSwiGlu, LmHead }

    /// <summary>A measured shape. Bytes = weights + x + y traffic of one launch.</summary>
    public sealed record Row(string Name, Op Op, int Rows, int Cols, long Bytes, double Ms, double GBps, double PercentOfCopy);

    /// <summary>Llama-2-7B's per-token GEMV shapes (rows = outputs, cols = inputs).</summary>
    public static readonly (string Name, Op Op, int Rows, int Cols)[] Llama2_7B =
    [
        ("wq/wk/wv/wo 4096x4096 +res", Op.GemvResidual, 4096, 4096),
        ("w2 down 4096x11008 +res", Op.GemvResidual, 4096, 11008),
        ("w1|w3 gate/up 2x11008x4096", Op.GateUpSwiGlu, 11008, 4096),
        ("classifier 32000x4096", Op.LmHead, 32000, 4096),
    ];

    /// <summary>Device-to-device copy of <paramref name="bytes"/> bytes, best of a few: GB/s counting read + write.</summary>
    public static double CopyCeilingGBps(IGpuDevice device, long bytes, int iterations = 10)
    {
        using GpuBuffer a = device.Allocate(bytes), b = device.Allocate(bytes);
        using GpuStream stream = device.CreateStream();
        using GpuEvent start = device.CreateEvent(), stop = device.CreateEvent();
        device.CopyDeviceToDeviceAsync(b.Ptr, a.Ptr, bytes, stream); // warm-up
        device.Record(start, stream);
        for (int i = 0; i < iterations; i++) device.CopyDeviceToDeviceAsync(b.Ptr, a.Ptr, bytes, stream);
        device.Record(stop, stream);
        device.Synchronize(stop);
        double ms = device.ElapsedMilliseconds(start, stop) / iterations;
        return 2.0 * bytes / (ms * 1e6);
    }

    /// <summary>
    /// Measures each shape (<paramref name="iterations"/> launches captured in one graph, timed over a replay
    /// after a warm-up replay) with weights of
    /// <paramref name="dtype"/> (contents irrelevant: a constant fill), against <paramref name="copyGBps"/>.
    /// </summary>
    public static IReadOnlyList<Row> Run(IGpuDevice device, WeightDType dtype, IEnumerable<(string Name, Op Op, int Rows, int Cols)> shapes,
        int iterations, long flushBytes, double copyGBps, bool usePtx = false)
    {
        using var kernel = new GemvKernel(device, dtype, usePtx);
        using GpuStream stream = device.CreateStream();
        using GpuEvent start = device.CreateEvent(), stop = device.CreateEvent();
        var rows = new List<Row>();
        foreach (var (name, op, r, c) in shapes)
        {
            long matrixBytes = kernel.WeightBytes(r, c) * (op == Op.GateUpSwiGlu ? 2 : 1);
            int copies = (int)Math.Clamp((flushBytes + matrixBytes - 1) / matrixBytes, 1, 16);
            var weights = new List<GpuBuffer>();
            try
            {
                for (int i = 0; i < copies; i++)
                {
                    GpuBuffer w = device.Allocate(matrixBytes);
                    device.Memset8(w.Ptr, 0x2C, matrixBytes); // f16 0x2C2C ≈ 0.06; f32 ≈ 2.4e-12: finite either way
                    weights.Add(w);
                }
                using GpuBuffer x = device.Allocate(4L * c), y = device.Allocate(4L * r);
                device.Memset8(x.Ptr, 0, 4L * c);
                device.Memset8(y.Ptr, 0, 4L * r);
                void Launch(int i)
                {
                    GpuBuffer w = weights[i % copies];
                    if (op == Op.GemvResidual) kernel.GemvResidual(y.Ptr, w.Ptr, x.Ptr, r, c, stream);
                    else if (op == Op.LmHead) kernel.LmHead(y.Ptr, w.Ptr, x.Ptr, r, c, stream);
                    else kernel.GateUpSwiGlu(y.Ptr, w.Ptr, w.Ptr + kernel.WeightBytes(r, c), x.Ptr, r, c, stream);
                }
                // The timed launches are one captured graph (as in a decode step): back-to-back kernels
                // without per-launch CPU overhead in the measurement.
                for (int i = 0; i < 3; i++) Launch(i);
                device.BeginCapture(stream);
                for (int i = 0; i < iterations; i++) Launch(i);
                using GpuGraph graph = device.EndCapture(stream);
                device.Launch(graph, stream); // warm-up replay (uploads the graph)
                device.Record(start, stream);
                device.Launch(graph, stream);
                device.Record(stop, stream);
                device.Synchronize(stop);
                double ms = device.ElapsedMilliseconds(start, stop) / iterations;
                long bytes = matrixBytes + 4L * c + 4L * r * (op == Op.GemvResidual ? 2 : 1);
                double gbps = bytes / (ms * 1e6);
                rows.Add(new Row(name, op, r, c, bytes, ms, gbps, copyGBps > 0 ? 100 * gbps / copyGBps : 0));
            }
            finally
            {
                foreach (GpuBuffer w in weights) w.Dispose();
            }
        }
        return rows;
    }

    /// <summary>The rows as a Markdown table.</summary>
    public static string Format(IReadOnlyList<Row> rows, string deviceName, double copyGBps)
    {
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"{deviceName}: copy ceiling {copyGBps:F0} GB/s\n");
        sb.Append("| shape | ms | GB/s | % of copy |\n| --- | ---: | ---: | ---: |\n");
        foreach (Row r in rows)
            sb.Append(CultureInfo.InvariantCulture, $"| {r.Name} | {r.Ms:F4} | {r.GBps:F1} | {r.PercentOfCopy:F1} |\n");
        return sb.ToString();
    }
}
