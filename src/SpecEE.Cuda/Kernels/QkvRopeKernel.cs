using SpecEE.Core.Model;
using SpecEE.Cuda.Device;
using SpecEE.Cuda.Interop;

namespace SpecEE.Cuda.Kernels;

/// <summary>
/// Launcher of QkvRope.cu (<c>qkv_rope_f16</c> / <c>qkv_rope_f32</c>): q, k, v = [Wq; Wk; Wv]·xn, RoPE on q and k
/// at position <c>*pos</c>, k and v written into the KV cache at (layer, pos), q into a scratch vector.
/// See the .cu header for the formula, the weight layout and the launch geometry.
/// </summary>
public sealed class QkvRopeKernel : IDisposable
{
    /// <summary>Source file name; also the simulator's module name.</summary>
    public const string FileName = "QkvRope.cu";

    /// <summary>Threads per block: 4 warps; each row pair (2i, 2i+1) gets up to a warp (see the .cu).</summary>
    public const int BlockSize = 128;

    private const int WarpsPerBlock = BlockSize / 32;
    private readonly IGpuDevice _device;
    private readonly GpuModule _module;
    private readonly GpuFunction _function, _batch;

    /// <summary>Compiles (or finds, on the simulator) and loads the kernel for weights of <paramref name="dtype"/>.</summary>
    public QkvRopeKernel(IGpuDevice device, WeightDType dtype)
    {
        _device = device;
        DType = dtype;
        _module = device.LoadCudaSource(KernelSources.Read(FileName), FileName);
        _function = device.GetFunction(_module, dtype == WeightDType.F16 ? "qkv_rope_f16" : "qkv_rope_f32");
        _batch = device.GetFunction(_module, dtype == WeightDType.F16 ? "qkv_rope_f16_batch" : "qkv_rope_f32_batch");
    }

    /// <summary>Tokens one launch of the batched kernel handles (kBatch in the .cu); <see cref="LaunchBatched"/> loops over chunks.</summary>
    public const int BatchTokens = 8;

    /// <summary>Element type of the weights this launcher reads.</summary>
    public WeightDType DType { get; }

    /// <summary>
    /// The rotary table the kernel reads, [maxSeq, headDim/2] pairs (cos, sin) as float2: the same values as
    /// SpecEE.Cpu's RopeTable (angles pos·theta^(−2i/headDim) in double, cos and sin rounded to float), so RoPE on
    /// the device equals the CPU's bit for bit.
    /// </summary>
    public static float[] BuildRopeTable(int headDim, int maxSeq, float theta)
    {
        if (headDim <= 0 || headDim % 2 != 0 || maxSeq <= 0)
            throw new ArgumentOutOfRangeException(nameof(headDim), $"RoPE table needs an even headDim > 0 and maxSeq > 0, got headDim = {headDim}, maxSeq = {maxSeq}");
        int half = headDim / 2;
        var table = new float[2L * maxSeq * half];
        for (int p = 0; p < maxSeq; p++)
            for (int i = 0; i < half; i++)
            {
                double angle = p * Math.Pow(theta, -2.0 * i / headDim); // exactly RopeTable's expression
                table[2 * (p * half + i)] = (float)Math.Cos(angle);
                table[2 * (p * half + i) + 1] = (float)Math.Sin(angle);
            }
        return table;
    }

    /// <summary>Allocates and fills the device rotary table of <see cref="BuildRopeTable"/>.</summary>
    public static GpuBuffer UploadRopeTable(IGpuDevice device, int headDim, int maxSeq, float theta)
    {
        float[] table = BuildRopeTable(headDim, maxSeq, theta);
        GpuBuffer buffer = device.Allocate(table.Length * 4L);
        device.CopyToDevice(buffer.Ptr, table.AsSpan());
        return buffer;
    }

    /// <summary>
    /// q [nHeads·headDim] f32, keys/values [nLayers, maxSeq, kvDim] f32 (row (layer, *pos) written) ←
    /// wqkv [(nHeads + 2·nKvHeads)·headDim, dim] (f16/f32: q rows, k rows, v rows), xn [dim] f32 (the normed
    /// residual), rope from <see cref="UploadRopeTable"/> (≥ maxSeq rows), <paramref name="pos"/> = device
    /// address of one int32 (normally <see cref="StepState.Pos"/>). Shapes come from <paramref name="config"/>;
    /// <paramref name="maxSeq"/> is the cache's length (may be below config.MaxSeq).
    /// </summary>
    public void Launch(GpuBuffer q, GpuBuffer keys, GpuBuffer values, GpuBuffer wqkv, GpuBuffer xn, GpuBuffer rope,
        CUdeviceptr pos, LlamaConfig config, int maxSeq, int layer, GpuStream stream) =>
        Enqueue(q, keys, values, wqkv, xn, rope, pos, nTok: 1, batched: false, config, maxSeq, layer, stream);

    /// <summary>
    /// <see cref="Launch"/> for <paramref name="nTok"/> tokens (prefill): xn [nTok, dim], q [nTok, nHeads·headDim],
    /// token t at position <paramref name="positions"/>[t] (device int32 array). Each launch covers
    /// <see cref="BatchTokens"/> tokens and reads every weight once for all of them.
    /// </summary>
    public void LaunchBatched(GpuBuffer q, GpuBuffer keys, GpuBuffer values, GpuBuffer wqkv, GpuBuffer xn, GpuBuffer rope,
        CUdeviceptr positions, int nTok, LlamaConfig config, int maxSeq, int layer, GpuStream stream)
    {
        if (nTok <= 0) throw new ArgumentOutOfRangeException(nameof(nTok), $"nTok = {nTok} must be positive");
        Enqueue(q, keys, values, wqkv, xn, rope, positions, nTok, batched: true, config, maxSeq, layer, stream);
    }

    private unsafe void Enqueue(GpuBuffer q, GpuBuffer keys, GpuBuffer values, GpuBuffer wqkv, GpuBuffer xn, GpuBuffer rope,
        CUdeviceptr pos, int nTok, bool batched, LlamaConfig config, int maxSeq, int layer, GpuStream stream)
    {
        GpuFunction function = batched ? _batch : _function;
        int dim = config.Dim, headDim = config.HeadDim, qDim = config.NHeads * headDim, kvDim = config.KvDim;
        int packet = DType == WeightDType.F16 ? 8 : 4;
        if (dim <= 0 || dim % packet != 0)
            throw new ArgumentException($"{function.Name} reads 128-bit weight packets: dim = {dim} must be a positive multiple of {packet}", nameof(config));
        if (headDim <= 0 || headDim % 2 != 0)
            throw new ArgumentException($"{function.Name}: RoPE pairs need an even headDim, got {headDim}", nameof(config));
        if (config.NKvHeads <= 0 || config.NHeads % config.NKvHeads != 0)
            throw new ArgumentException($"{function.Name}: nHeads = {config.NHeads} must be a multiple of nKvHeads = {config.NKvHeads}", nameof(config));
        if (maxSeq <= 0) throw new ArgumentOutOfRangeException(nameof(maxSeq), $"maxSeq = {maxSeq} must be positive");
        if ((uint)layer >= (uint)config.NLayers) throw new ArgumentOutOfRangeException(nameof(layer), $"layer {layer} is not in [0, {config.NLayers})");
        int rows = qDim + 2 * kvDim;
        long cacheBytes = (long)config.NLayers * maxSeq * kvDim * 4;
        Require(function, q, (long)nTok * qDim * 4, nameof(q));
        Require(function, keys, cacheBytes, nameof(keys));
        Require(function, values, cacheBytes, nameof(values));
        Require(function, wqkv, (long)rows * dim * (DType == WeightDType.F16 ? 2 : 4), nameof(wqkv));
        Require(function, xn, (long)nTok * dim * 4, nameof(xn));
        Require(function, rope, (long)maxSeq * headDim * 4, nameof(rope)); // [maxSeq, headDim/2] float2

        int pairsPerBlock = WarpsPerBlock * (32 / RowLanes(dim / packet)), pairs = rows / 2;
        int grid = (pairs + pairsPerBlock - 1) / pairsPerBlock;
        CUdeviceptr pQ, pK = keys.Ptr, pV = values.Ptr, pW = wqkv.Ptr, pX, pRope = rope.Ptr, pPos;
        int n, d = dim, nHeads = config.NHeads, nKvHeads = config.NKvHeads, hd = headDim, l = layer, seq = maxSeq;
        // The batched kernel takes nTok after pos; the decode one has no such parameter.
        nint* args = stackalloc nint[14];
        int k = 0;
        args[k++] = (nint)(&pQ); args[k++] = (nint)(&pK); args[k++] = (nint)(&pV); args[k++] = (nint)(&pW);
        args[k++] = (nint)(&pX); args[k++] = (nint)(&pRope); args[k++] = (nint)(&pPos);
        if (batched) args[k++] = (nint)(&n);
        args[k++] = (nint)(&d); args[k++] = (nint)(&nHeads); args[k++] = (nint)(&nKvHeads); args[k++] = (nint)(&hd);
        args[k++] = (nint)(&l); args[k++] = (nint)(&seq);
        for (int t0 = 0; t0 < nTok; t0 += BatchTokens)
        {
            pQ = q.Ptr + 4L * t0 * qDim;
            pX = xn.Ptr + 4L * t0 * dim;
            pPos = pos + 4L * t0;
            n = Math.Min(BatchTokens, nTok - t0);
            _device.Launch(function, grid, BlockSize, 0, stream, new ReadOnlySpan<nint>(args, k));
        }
    }

    /// <summary>Lanes per row pair for rows of <paramref name="packets"/> 128-bit packets: the power of two ≥ packets, at most 32 (as the .cu computes it).</summary>
    internal static int RowLanes(int packets)
    {
        int lanes = 1;
        while (lanes < packets && lanes < 32) lanes <<= 1;
        return lanes;
    }

    private static void Require(GpuFunction function, GpuBuffer buffer, long bytes, string name)
    {
        if (buffer.Bytes < bytes) throw new ArgumentException($"{name} holds {buffer.Bytes} bytes, {function.Name} needs {bytes}", name);
    }

    public void Dispose() => _module.Dispose();
}
