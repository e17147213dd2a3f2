using SpecEE.Core.Model;
using SpecEE.Cuda.Device;
using SpecEE.Cuda.Interop;

namespace SpecEE.Cuda.Kernels;

/// <summary>
/// Launcher of FillRandom.cu (<c>fill_uniform_f16</c> / <c>fill_uniform_f32</c>): a deterministic uniform
/// fill in [offset − scale, offset + scale), used to make benchmark weights on the device.
/// <see cref="Reference"/> is the same function on the host.
/// </summary>
public sealed class FillRandomKernel : IDisposable
{
    /// <summary>Source file name; also the simulator's module name.</summary>
    public const string FileName = "FillRandom.cu";

    private const int BlockSize = 256;
    private const int MaxBlocks = 65535 * 4;
    private readonly IGpuDevice _device;
    private readonly GpuModule _module;
    private readonly GpuFunction _f16, _f32;

    /// <summary>Compiles (or finds, on the simulator) and loads both variants.</summary>
    public FillRandomKernel(IGpuDevice device)
    {
        _device = device;
        _module = device.LoadCudaSource(KernelSources.Read(FileName), FileName);
        _f16 = device.GetFunction(_module, "fill_uniform_f16");
        _f32 = device.GetFunction(_module, "fill_uniform_f32");
    }

    /// <summary>out [count] (f16 or f32 per <paramref name="dtype"/>) ← uniform(i, seed) · scale + offset.</summary>
    public unsafe void Launch(CUdeviceptr output, long count, WeightDType dtype, uint seed, float scale, float offset, GpuStream stream)
    {
        if (count <= 0) throw new ArgumentOutOfRangeException(nameof(count), $"count = {count} must be positive");
        long blocks = Math.Min((count + BlockSize - 1) / BlockSize, MaxBlocks);
        CUdeviceptr pOut = output;
        long n = count;
        nint* args = stackalloc nint[] { (nint)(&pOut), (nint)(&n), (nint)(&seed), (nint)(&scale), (nint)(&offset) };
        _device.Launch(dtype == WeightDType.F16 ? _f16 : _f32, (int)blocks, BlockSize, 0, stream, new ReadOnlySpan<nint>(args, 5));
    }

    /// <summary>Fills all of <paramref name="buffer"/> (whole elements of <paramref name="dtype"/>).</summary>
    public void Launch(GpuBuffer buffer, WeightDType dtype, uint seed, float scale, float offset, GpuStream stream) =>
        Launch(buffer.Ptr, buffer.Bytes / (dtype == WeightDType.F16 ? 2 : 4), dtype, seed, scale, offset, stream);

    /// <summary>The value element <paramref name="i"/> gets before rounding to the storage type (see the .cu header).</summary>
    public static float Reference(long i, uint seed, float scale, float offset)
    {
        uint h = LowBias32((uint)(ulong)i ^ LowBias32((uint)((ulong)i >> 32) ^ seed));
        float u = (h >> 8) * (1.0f / 16777216.0f);
        return offset + scale * (2.0f * u - 1.0f);
    }

    private static uint LowBias32(uint x)
    {
        x ^= x >> 16;
        x *= 0x7feb352du;
        x ^= x >> 15;
        x *= 0x846ca68bu;
        x ^= x >> 16;
        return x;
    }

    public void Dispose() => _module.Dispose();
}
