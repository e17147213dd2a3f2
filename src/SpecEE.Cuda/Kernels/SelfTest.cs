using SpecEE.Cuda.Device;
using SpecEE.Cuda.Interop;

namespace SpecEE.Cuda.Kernels;

/// <summary>
/// Launcher of SelfTest.cu (<c>selftest_f16</c>): fp16 rounding, vector loads, warp reduction and half2
/// packing in one kernel, to check a device end to end. See the .cu header for the formula.
/// </summary>
public sealed class SelfTestKernel : IDisposable
{
    /// <summary>Source file name; also the simulator's module name.</summary>
    public const string FileName = "SelfTest.cu";

    private const int BlockSize = 128;
    private readonly IGpuDevice _device;
    private readonly GpuModule _module;
    private readonly GpuFunction _function;

    /// <summary>Compiles (or finds, on the simulator) and loads the kernel.</summary>
    public SelfTestKernel(IGpuDevice device)
    {
        _device = device;
        _module = device.LoadCudaSource(KernelSources.Read(FileName), FileName);
        _function = device.GetFunction(_module, "selftest_f16");
    }

    /// <summary>
    /// out [n/32] f32, rounded [n] f16, pair [n/32] half2 ← x [n] f32, v [n] float4, k [n] int4.
    /// <paramref name="n"/> must be a positive multiple of 32 (whole warps).
    /// </summary>
    public unsafe void Launch(GpuBuffer output, GpuBuffer rounded, GpuBuffer pair,
        GpuBuffer x, GpuBuffer v, GpuBuffer k, int n, GpuStream stream)
    {
        if (n <= 0 || n % 32 != 0) throw new ArgumentOutOfRangeException(nameof(n), $"n = {n} must be a positive multiple of 32");
        int warps = n / 32;
        Require(output, warps * 4L, nameof(output));
        Require(rounded, n * 2L, nameof(rounded));
        Require(pair, warps * 4L, nameof(pair));
        Require(x, n * 4L, nameof(x));
        Require(v, n * 16L, nameof(v));
        Require(k, n * 16L, nameof(k));

        CUdeviceptr pOut = output.Ptr, pRounded = rounded.Ptr, pPair = pair.Ptr, pX = x.Ptr, pV = v.Ptr, pK = k.Ptr;
        int count = n;
        nint* args = stackalloc nint[] { (nint)(&pOut), (nint)(&pRounded), (nint)(&pPair), (nint)(&pX), (nint)(&pV), (nint)(&pK), (nint)(&count) };
        _device.Launch(_function, (n + BlockSize - 1) / BlockSize, BlockSize, 0, stream, new ReadOnlySpan<nint>(args, 7));
    }

    private static void Require(GpuBuffer buffer, long bytes, string name)
    {
        if (buffer.Bytes < bytes) throw new ArgumentException($"{name} holds {buffer.Bytes} bytes, selftest_f16 needs {bytes}", name);
    }

    public void Dispose() => _module.Dispose();
}
