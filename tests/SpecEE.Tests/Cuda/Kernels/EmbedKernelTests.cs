using SpecEE.Core.Model;
using SpecEE.Cuda.Device;
using SpecEE.Cuda.Kernels;
using static SpecEE.Tests.Cuda.Kernels.DecodeKernelHarness;

namespace SpecEE.Tests.Cuda.Kernels;

/// <summary>embed_f16 / embed_f32: x = table row of the token held in the device step-state block.</summary>
public class EmbedKernelTests
{
    [TestCaseSource(typeof(DecodeKernelHarness), nameof(DeviceAndShape))]
    public void Embed_F16_MatchesCpuReference(string device, string shape) => Run(device, Shapes[shape], WeightDType.F16);

    [TestCaseSource(typeof(DecodeKernelHarness), nameof(DeviceAndShape))]
    public void Embed_F32_MatchesCpuReference(string device, string shape) => Run(device, Shapes[shape], WeightDType.F32);

    private static void Run(string kind, LlamaConfig cfg, WeightDType dtype)
    {
        using IGpuDevice device = Open(kind);
        using var kernel = new EmbedKernel(device, dtype);
        int vocab = cfg.Vocab, dim = cfg.Dim;
        float[] table = Random(new Random(11), vocab * dim, 2f);
        // The CPU reference of an f16 model is its table rounded to fp16 (LlamaModel.WithDType(F16)); a lookup
        // converts exactly, so the row must come back bit for bit.
        float[] reference = dtype == WeightDType.F16 ? RoundToHalf(table) : table;
        using GpuBuffer dTable = UploadWeights(device, table, dtype);
        using GpuBuffer step = Upload(device, new int[StepState.Count]);
        using GpuBuffer x = NaNBuffer(device, dim);
        using GpuStream stream = device.CreateStream();

        foreach (int token in new[] { 0, 1, vocab / 2 + 3, vocab - 1 })
        {
            device.CopyToDevice(StepState.Field(step, StepState.Token), new[] { token }.AsSpan());
            kernel.Launch(x, dTable, StepState.Field(step, StepState.Token), vocab, dim, stream);
            float[] got = Download(device, x, dim);
            AssertClose(got, reference.AsSpan(token * dim, dim), 0f, 0f, $"embed token {token}");
        }
    }

    [TestCase(-1)]
    [TestCase(512)]
    public void Embed_TokenOutsideVocab_WritesNaN(int token)
    {
        using IGpuDevice device = Open("sim");
        using var kernel = new EmbedKernel(device, WeightDType.F32);
        const int vocab = 512, dim = 64;
        using GpuBuffer table = Upload(device, new float[vocab * dim]);
        using GpuBuffer tokenBuffer = Upload(device, new[] { token });
        using GpuBuffer x = Upload(device, new float[dim]); // zeros: the NaN must come from the kernel
        using GpuStream stream = device.CreateStream();

        kernel.Launch(x, table, tokenBuffer.Ptr, vocab, dim, stream);

        Assert.That(Download(device, x, dim), Has.All.NaN);
    }

    [Test]
    public void Launch_TableTooSmall_ThrowsNamingTheBuffer()
    {
        using IGpuDevice device = Open("sim");
        using var kernel = new EmbedKernel(device, WeightDType.F16);
        using GpuBuffer table = device.Allocate(512 * 64 * 2 - 2);
        using GpuBuffer x = device.Allocate(64 * 4);
        using GpuStream stream = device.CreateStream();

        var e = Assert.Throws<ArgumentException>(() => kernel.Launch(x, table, x.Ptr, 512, 64, stream));

        Assert.That(e!.Message, Does.StartWith("table holds 65534 bytes, embed_f16 needs 65536"));
    }
}
