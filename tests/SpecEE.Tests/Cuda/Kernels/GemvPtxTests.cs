using System.Text;
using System.Text.RegularExpressions;
using SpecEE.Core.Model;
using SpecEE.Cuda.Device;
using SpecEE.Cuda.Kernels;
using SpecEE.Cuda.Nvrtc;
using static SpecEE.Tests.Cuda.Kernels.KernelTestSupport;

namespace SpecEE.Tests.Cuda.Kernels;

/// <summary>
/// The handwritten ptx/gemv_f16.ptx against its CUDA C twin (Gemv.cu's gemv_residual_f16): same entry and
/// parameters, a body ptxas accepts, and on a GPU bit-identical results.
/// </summary>
public partial class GemvPtxTests
{
    [GeneratedRegex(@"\.entry\s+(\w+)\s*\(([^)]*)\)\s*(\.maxntid\s+[\d, ]+)?")]
    private static partial Regex EntryPattern();

    /// <summary>(entry name, [param types], .maxntid line) of the first .entry in <paramref name="ptx"/> named <paramref name="name"/>.</summary>
    private static (string Name, string[] Types, string MaxNtid) Entry(string ptx, string name)
    {
        Match m = EntryPattern().Matches(ptx).First(e => e.Groups[1].Value == name);
        string[] types = m.Groups[2].Value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(p => p.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]).ToArray();
        return (m.Groups[1].Value, types, Regex.Replace(m.Groups[3].Value, @"\s+", " ").Trim());
    }

    private static string Ptx => KernelSources.Read(GemvKernel.PtxFileName);

    [Test]
    public void PtxTwin_IsEmbedded_AndItsEntryMatchesTheCudaCSignature()
    {
        var (name, types, maxNtid) = Entry(Ptx, "gemv_residual_f16");
        // The twin in Gemv.cu: (float* y, const __half* W, const float* x, int rows, int cols) → 3 pointers, 2 ints.
        Match c = Regex.Match(KernelSources.Read(GemvKernel.FileName), @"__launch_bounds__\((\d+)\) gemv_residual_f16\(([^)]*)\)");
        Assert.That(c.Success, "gemv_residual_f16 is declared in Gemv.cu");
        string[] expected = c.Groups[2].Value.Split(',').Select(p => p.Contains('*') ? ".u64" : p.Trim().StartsWith("int ") ? ".u32" : "?").ToArray();
        Assert.That(name, Is.EqualTo("gemv_residual_f16"));
        Assert.That(types, Is.EqualTo(expected));
        Assert.That(maxNtid, Is.EqualTo($".maxntid {c.Groups[1].Value}, 1, 1"), "same block-size bound");
        Assert.That(Ptx, Does.Contain("ld.global.nc.L1::no_allocate.v4.u32"), "128-bit non-caching weight loads");
        Assert.That(Ptx, Does.Contain("shfl.sync.bfly.b32"), "warp butterfly reduction");
    }

    [Test]
    public void PtxTwin_EntryEqualsWhatNvrtcEmitsForTheTwin()
    {
        NvrtcCompiler nvrtc = CudaTestSupport.RequireNvrtc();
        string twin = nvrtc.Compile(KernelSources.Read(GemvKernel.FileName), GemvKernel.FileName, new NvrtcOptions(80, NvrtcTarget.Ptx)).PtxText;
        Assert.That(Entry(Ptx, "gemv_residual_f16"), Is.EqualTo(Entry(twin, "gemv_residual_f16")).Using<(string, string[], string)>(
            (a, b) => a.Item1 == b.Item1 && a.Item2.SequenceEqual(b.Item2) && a.Item3 == b.Item3));
    }

    /// <summary>
    /// NVRTC cannot assemble a .ptx file, but it runs ptxas on inline asm: the entry's body, with the
    /// ld.param loads turned into asm operands, must assemble for sm_80 and sm_90 with an empty log.
    /// </summary>
    [TestCase(80)]
    [TestCase(90)]
    public void PtxTwin_BodyAssemblesWithPtxas(int arch)
    {
        NvrtcCompiler nvrtc = CudaTestSupport.RequireNvrtc();
        string ptx = Ptx;
        string body = ptx[ptx.IndexOf(".maxntid", StringComparison.Ordinal)..];
        body = body[(body.IndexOf('{') + 1)..body.LastIndexOf('}')];
        body = Regex.Replace(body, "//[^\n]*", "");
        for (int i = 0; i < 5; i++)
            body = Regex.Replace(body, $@"ld\.param\.(u64|u32)\s+(%\w+), \[gemv_residual_f16_param_{i}\];",
                m => $"mov.{(m.Groups[1].Value == "u64" ? "b64" : "b32")} {m.Groups[2].Value}, @{i};");
        Assert.That(body, Does.Not.Contain("ld.param"), "every parameter load was replaced");
        body = body.Replace("ret;", "bar.warp.sync -1;").Replace("%", "%%");
        body = Regex.Replace(body, @"@(\d);", "%$1;");
        var src = new StringBuilder("#include \"specee_prelude.cuh\"\n");
        src.Append("extern \"C\" __global__ void __launch_bounds__(128) ptx_body(float* y, const __half* W, const float* x, int rows, int cols)\n{\n");
        src.Append("    asm volatile(\"{\\n\"\n");
        foreach (string line in body.Split('\n'))
            src.Append("        \"").Append(line.Replace("\\", "\\\\").Replace("\"", "\\\"").Replace("\t", " ")).Append("\\n\"\n");
        src.Append("        \"}\\n\" :: \"l\"(y), \"l\"(W), \"l\"(x), \"r\"(rows), \"r\"(cols) : \"memory\");\n}\n");

        CompiledKernel k = nvrtc.Compile(src.ToString(), "gemv_f16_ptx_body.cu", new NvrtcOptions(arch));

        Assert.That(k.Log, Is.Empty);
    }
}

/// <summary>The PTX GEMV and the CUDA C GEMV on a device give bit-identical y (GPU only: the simulator cannot JIT PTX).</summary>
[TestFixture("sim")]
[TestFixture("gpu")]
public class GemvPtxDeviceTests(string kind)
{
    [Test]
    public void UsePtx_OnTheSimulator_IsRefusedWithTheReason()
    {
        if (kind != "sim") Assert.Ignore("simulator behaviour");
        using IGpuDevice device = Open(kind);
        var e = Assert.Throws<SpecEE.Core.InvalidRequestException>(() => new GemvKernel(device, WeightDType.F16, usePtx: true));
        Assert.That(e!.Message, Does.Contain("PTX modules run only on a GPU"));
        Assert.Throws<SpecEE.Core.InvalidRequestException>(() => new GemvKernel(device, WeightDType.F32, usePtx: true), "the PTX twin is f16 only");
    }

    [TestCase(128, 128)]
    [TestCase(128, 384)]
    [TestCase(19, 1032)]
    [TestCase(4096, 4096)]
    [TestCase(11008, 4096)]
    [TestCase(4096, 11008)]
    [TestCase(32000, 4096)]
    public void PtxTwin_MatchesCudaCTwinBitForBit(int rows, int cols)
    {
        if (kind == "sim")
            Assert.Ignore("PTX modules are JIT-compiled by the CUDA driver; the simulator runs only the CUDA C kernels");
        using IGpuDevice device = Open(kind);
        using GpuStream stream = device.CreateStream();
        using var c = new GemvKernel(device, WeightDType.F16);
        using var ptx = new GemvKernel(device, WeightDType.F16, usePtx: true);
        float[] y0 = Uniform(91, rows, 1f);
        using GpuBuffer dW = Upload(device, Uniform(92, rows * cols, 1f / MathF.Sqrt(cols)), asHalf: true), dX = Upload(device, Uniform(93, cols, 1f));
        using GpuBuffer yC = NaNs(device, rows), yPtx = NaNs(device, rows);
        device.CopyToDevice(yC.Ptr, y0.AsSpan());
        device.CopyToDevice(yPtx.Ptr, y0.AsSpan());
        Assert.That(ptx.UsePtx && ptx.FastPath(dW.Ptr, dX.Ptr, cols), "this shape runs the PTX entry");

        c.GemvResidual(yC.Ptr, dW.Ptr, dX.Ptr, rows, cols, stream);
        ptx.GemvResidual(yPtx.Ptr, dW.Ptr, dX.Ptr, rows, cols, stream);
        device.Synchronize(stream);

        float[] a = Download(device, yC, rows + 8), b = Download(device, yPtx, rows + 8);
        for (int i = 0; i < rows + 8; i++)
            if (BitConverter.SingleToInt32Bits(a[i]) != BitConverter.SingleToInt32Bits(b[i]))
                Assert.Fail($"y[{i}]: CUDA C {a[i]:R}, PTX {b[i]:R}");
    }
}
