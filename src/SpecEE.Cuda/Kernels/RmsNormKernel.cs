using SpecEE.Cuda.Device;

namespace SpecEE.Cuda.Kernels;

/// <summary>
/// Launcher of RmsNorm.cu (<c>rmsnorm_f32</c>): y = x / sqrt(mean(x²) + eps) ⊙ w per row, one block per row.
/// Used for the attention norm, the FFN norm and the final norm. See the .cu header.
/// </summary>
public sealed class RmsNormKernel : IDisposable
{
    /// <summary>Source file name; also the simulator's module name.</summary>
    public const string FileName = "RmsNorm.cu";

    /// <summary>Threads per block: 8 warps are plenty for rows of a few thousand floats.</summary>
    public const int BlockSize = 256;

    private readonly IGpuDevice _device;
    private readonly GpuModule _module;
    private readonly GpuFunction _function;

    /// <summary>Compiles (or finds, on the simulator) and loads the kernel.</summary>
    public RmsNormKernel(IGpuDevice device)
    {
        _device = device;
        _module = device.LoadCudaSource(KernelSources.Read(FileName), FileName);
        _function = device.GetFunction(_module, "rmsnorm_f32");
    }

    /// <summary>
    /// y [rows, dim] f32 ← RMSNorm of x [rows, dim] f32 with weights w [dim] f32. <paramref name="y"/> may be
    /// <paramref name="x"/> (in place).
    /// </summary>
    public unsafe void Launch(GpuBuffer y, GpuBuffer x, GpuBuffer w, int rows, int dim, float eps, GpuStream stream)
    {
        if (rows <= 0 || dim <= 0) throw new ArgumentOutOfRangeException(nameof(dim), $"rmsnorm needs rows > 0 and dim > 0, got rows = {rows}, dim = {dim}");
        if (!(eps >= 0) || float.IsInfinity(eps)) throw new ArgumentOutOfRangeException(nameof(eps), $"eps = {eps} must be finite and ≥ 0");
        Require(y, (long)rows * dim * 4, nameof(y));
        Require(x, (long)rows * dim * 4, nameof(x));
        Require(w, dim * 4L, nameof(w));

        var pY = y.Ptr; var pX = x.Ptr; var pW = w.Ptr;
        int d = dim;
        float e = eps;
        nint* args = stackalloc nint[] { (nint)(&pY), (nint)(&pX), (nint)(&pW), (nint)(&d), (nint)(&e) };
        _device.Launch(_function, rows, BlockSize, 0, stream, new ReadOnlySpan<nint>(args, 5));
    }

    private static void Require(GpuBuffer buffer, long bytes, string name)
    {
        if (buffer.Bytes < bytes) throw new ArgumentException($"{name} holds {buffer.Bytes} bytes, rmsnorm_f32 needs {bytes}", name);
    }

    public void Dispose() => _module.Dispose();
}
