using SpecEE.Core.Model;
using SpecEE.Cuda.Device;
using SpecEE.Cuda.Interop;

namespace SpecEE.Cuda.Kernels;

/// <summary>
/// Launcher of Embed.cu (<c>embed_f16</c> / <c>embed_f32</c>): x[dim] f32 ← row <c>*token</c> of the embedding
/// table, the token read from device memory (normally <see cref="StepState.Token"/>). See the .cu header.
/// </summary>
public sealed class EmbedKernel : IDisposable
{
    /// <summary>Source file name; also the simulator's module name.</summary>
    public const string FileName = "Embed.cu";

    /// <summary>Threads per block (one per element).</summary>
    public const int BlockSize = 256;

    private readonly IGpuDevice _device;
    private readonly GpuModule _module;
    private readonly GpuFunction _function;

    /// <summary>Compiles (or finds, on the simulator) and loads the kernel for tables of <paramref name="dtype"/>.</summary>
    public EmbedKernel(IGpuDevice device, WeightDType dtype)
    {
        _device = device;
        DType = dtype;
        _module = device.LoadCudaSource(KernelSources.Read(FileName), FileName);
        _function = device.GetFunction(_module, dtype == WeightDType.F16 ? "embed_f16" : "embed_f32");
    }

    /// <summary>Element type of the table this launcher reads.</summary>
    public WeightDType DType { get; }

    /// <summary>
    /// x [dim] f32 ← table [vocab, dim] (f16 or f32, <see cref="DType"/>) row <c>*token</c>; a token outside
    /// [0, vocab) yields NaN in all of x. <paramref name="token"/> is the device address of one int32.
    /// </summary>
    public unsafe void Launch(GpuBuffer x, GpuBuffer table, CUdeviceptr token, int vocab, int dim, GpuStream stream)
    {
        if (vocab <= 0 || dim <= 0) throw new ArgumentOutOfRangeException(nameof(dim), $"embed needs vocab > 0 and dim > 0, got vocab = {vocab}, dim = {dim}");
        int elementBytes = DType == WeightDType.F16 ? 2 : 4;
        Require(x, dim * 4L, nameof(x));
        Require(table, (long)vocab * dim * elementBytes, nameof(table));

        CUdeviceptr pX = x.Ptr, pTable = table.Ptr, pToken = token;
        int v = vocab, d = dim;
        nint* args = stackalloc nint[] { (nint)(&pX), (nint)(&pTable), (nint)(&pToken), (nint)(&v), (nint)(&d) };
        _device.Launch(_function, (dim + BlockSize - 1) / BlockSize, BlockSize, 0, stream, new ReadOnlySpan<nint>(args, 5));
    }

    private void Require(GpuBuffer buffer, long bytes, string name)
    {
        if (buffer.Bytes < bytes) throw new ArgumentException($"{name} holds {buffer.Bytes} bytes, {_function.Name} needs {bytes}", name);
    }

    public void Dispose() => _module.Dispose();
}
