using SpecEE.Core.Model;
using SpecEE.Cuda.Device;
using SpecEE.Cuda.Interop;

namespace SpecEE.Cuda.Kernels;

/// <summary>
/// Launcher of Attention.cu: split-KV flash-decoding for one query token (<c>attention_f32</c>, grid
/// (nHeads, nSplits)) followed by the merge of the splits (<c>attention_combine_f32</c>, grid nHeads), with GQA
/// and the skipped-layer mask (<c>depth[]</c>). Position and length are read on the device, so the launch
/// geometry is fixed by the cache length and the launches can be captured once into a graph. See the .cu header.
/// </summary>
public sealed class AttentionKernel : IDisposable
{
    /// <summary>Source file name; also the simulator's module name.</summary>
    public const string FileName = "Attention.cu";

    /// <summary>Threads per block of both kernels.</summary>
    public const int BlockSize = 128;

    /// <summary>Largest head size the kernel handles (two float4 slices per lane of a 32-lane group).</summary>
    public const int MaxHeadDim = 256;

    /// <summary>Default for the shortest split: below this a split's fixed cost outweighs its parallelism.</summary>
    public const int DefaultMinSplitLen = 64;

    private readonly IGpuDevice _device;
    private readonly GpuModule _module;
    private readonly GpuFunction _attention, _combine;

    /// <summary>Compiles (or finds, on the simulator) and loads both kernels.</summary>
    public AttentionKernel(IGpuDevice device)
    {
        _device = device;
        _module = device.LoadCudaSource(KernelSources.Read(FileName), FileName);
        _attention = device.GetFunction(_module, "attention_f32");
        _combine = device.GetFunction(_module, "attention_combine_f32");
    }

    /// <summary>
    /// A split count for a cache of <paramref name="maxSeq"/> positions: enough blocks for about two waves over the
    /// device's SMs at long lengths, never more splits than <paramref name="maxSeq"/> / <paramref name="minSplitLen"/>.
    /// Short sequences use fewer splits by themselves (each split covers at least minSplitLen positions).
    /// </summary>
    public static int DefaultSplits(GpuDeviceInfo info, int nHeads, int maxSeq, int minSplitLen = DefaultMinSplitLen)
    {
        if (nHeads <= 0 || maxSeq <= 0 || minSplitLen <= 0)
            throw new ArgumentOutOfRangeException(nameof(nHeads), $"need nHeads, maxSeq and minSplitLen > 0, got {nHeads}, {maxSeq}, {minSplitLen}");
        int wanted = (2 * Math.Max(1, info.MultiprocessorCount) + nHeads - 1) / nHeads;
        int most = (maxSeq + minSplitLen - 1) / minSplitLen;
        return Math.Clamp(wanted, 1, most);
    }

    /// <summary>Bytes of the partial-result scratch: [nHeads, nSplits, headDim + 2] f32.</summary>
    public static long PartialBytes(int nHeads, int nSplits, int headDim) => 4L * nHeads * nSplits * (headDim + 2);

    /// <summary>Lanes that share one position: the power of two ≥ headDim/4, at most a warp.</summary>
    internal static int GroupSize(int headDim)
    {
        int size = 1;
        while (size < headDim / 4 && size < 32) size <<= 1;
        return size;
    }

    /// <summary>
    /// output [nHeads·headDim] f32 ← attention of q [nHeads·headDim] f32 at position <c>*pos</c> over layer
    /// <paramref name="layer"/> of keys/values [nLayers, maxSeq, kvDim] f32, positions t ≤ pos with
    /// t == pos || depth[t] &gt; layer (depth [maxSeq] int32). <paramref name="partial"/> is scratch of
    /// <see cref="PartialBytes"/>. <paramref name="pos"/> is the device address of one int32 (normally
    /// <see cref="StepState.Pos"/>). Split s covers chunk = max(minSplitLen, ceil((pos+1)/nSplits)) positions from s·chunk.
    /// </summary>
    public void Launch(GpuBuffer output, GpuBuffer partial, GpuBuffer q, GpuBuffer keys, GpuBuffer values, GpuBuffer depth,
        CUdeviceptr pos, LlamaConfig config, int maxSeq, int layer, int nSplits, int minSplitLen, GpuStream stream) =>
        LaunchBatched(output, partial, q, keys, values, depth, pos, 1, config, maxSeq, layer, nSplits, minSplitLen, stream);

    /// <summary>
    /// <see cref="Launch"/> for <paramref name="nTok"/> query tokens at once (prefill): token z reads its position
    /// from <paramref name="positions"/>[z] (device int32 array), its query from row z of q [nTok, nHeads·headDim]
    /// and writes row z of output; partial holds nTok·<see cref="PartialBytes"/>. The K/V rows of all nTok tokens
    /// must already be in the cache (qkv_rope of every token first); the causal limit is each token's own position.
    /// </summary>
    public unsafe void LaunchBatched(GpuBuffer output, GpuBuffer partial, GpuBuffer q, GpuBuffer keys, GpuBuffer values,
        GpuBuffer depth, CUdeviceptr positions, int nTok, LlamaConfig config, int maxSeq, int layer, int nSplits, int minSplitLen,
        GpuStream stream)
    {
        int headDim = config.HeadDim, nHeads = config.NHeads, kvDim = config.KvDim;
        if (headDim <= 0 || headDim % 4 != 0 || headDim > MaxHeadDim)
            throw new ArgumentException($"attention_f32 reads float4 slices: headDim = {headDim} must be a multiple of 4 in [4, {MaxHeadDim}]", nameof(config));
        if (config.NKvHeads <= 0 || nHeads % config.NKvHeads != 0)
            throw new ArgumentException($"attention_f32: nHeads = {nHeads} must be a multiple of nKvHeads = {config.NKvHeads}", nameof(config));
        if (maxSeq <= 0) throw new ArgumentOutOfRangeException(nameof(maxSeq), $"maxSeq = {maxSeq} must be positive");
        if ((uint)layer >= (uint)config.NLayers) throw new ArgumentOutOfRangeException(nameof(layer), $"layer {layer} is not in [0, {config.NLayers})");
        if (nSplits <= 0 || nSplits > 65535) throw new ArgumentOutOfRangeException(nameof(nSplits), $"nSplits = {nSplits} must be in [1, 65535]");
        if (nTok <= 0 || nTok > 65535) throw new ArgumentOutOfRangeException(nameof(nTok), $"nTok = {nTok} must be in [1, 65535]");
        if (minSplitLen <= 0) throw new ArgumentOutOfRangeException(nameof(minSplitLen), $"minSplitLen = {minSplitLen} must be positive");
        long cacheBytes = (long)config.NLayers * maxSeq * kvDim * 4;
        Require(output, (long)nTok * nHeads * headDim * 4, nameof(output));
        Require(partial, nTok * PartialBytes(nHeads, nSplits, headDim), nameof(partial));
        Require(q, (long)nTok * nHeads * headDim * 4, nameof(q));
        Require(keys, cacheBytes, nameof(keys));
        Require(values, cacheBytes, nameof(values));
        Require(depth, maxSeq * 4L, nameof(depth));

        int groups = BlockSize / GroupSize(headDim);
        int sharedBytes = 4 * groups * (headDim + 4); // [groups, headDim + 4], see the .cu

        CUdeviceptr pPartial = partial.Ptr, pQ = q.Ptr, pK = keys.Ptr, pV = values.Ptr, pDepth = depth.Ptr, pPos = positions;
        int l = layer, seq = maxSeq, heads = nHeads, kvHeads = config.NKvHeads, hd = headDim, minLen = minSplitLen;
        nint* args = stackalloc nint[]
        {
            (nint)(&pPartial), (nint)(&pQ), (nint)(&pK), (nint)(&pV), (nint)(&pDepth), (nint)(&pPos),
            (nint)(&l), (nint)(&seq), (nint)(&heads), (nint)(&kvHeads), (nint)(&hd), (nint)(&minLen),
        };
        _device.Launch(_attention, new Dim3((uint)nHeads, (uint)nSplits, (uint)nTok), BlockSize, sharedBytes, stream,
            new ReadOnlySpan<nint>(args, 12));

        CUdeviceptr pOut = output.Ptr;
        int splits = nSplits;
        nint* combineArgs = stackalloc nint[] { (nint)(&pOut), (nint)(&pPartial), (nint)(&splits), (nint)(&hd) };
        _device.Launch(_combine, new Dim3((uint)nHeads, (uint)nTok), BlockSize, 0, stream, new ReadOnlySpan<nint>(combineArgs, 4));
    }

    private static void Require(GpuBuffer buffer, long bytes, string name)
    {
        if (buffer.Bytes < bytes) throw new ArgumentException($"{name} holds {buffer.Bytes} bytes, attention_f32 needs {bytes}", name);
    }

    public void Dispose() => _module.Dispose();
}
