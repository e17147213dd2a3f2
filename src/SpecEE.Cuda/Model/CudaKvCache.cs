using SpecEE.Core;
using SpecEE.Cuda.Device;

namespace SpecEE.Cuda.Model;

/// <summary>
/// The device KV cache of a decoder stack and the per-position depth that drives the skipped-layer mask:
/// attention of layer ℓ at position pos reads position q &lt; pos only when depth[q] &gt; ℓ (part 2's early exit
/// leaves the K/V of skipped layers unwritten). Dense decode commits depth[pos] = nLayers.
/// </summary>
public sealed class CudaKvCache : IDisposable
{
    private readonly IGpuDevice _device;

    public CudaKvCache(IGpuDevice device, int nLayers, int maxSeq, int kvDim)
    {
        if (nLayers <= 0 || maxSeq <= 0 || kvDim <= 0)
            throw new InvalidRequestException($"KV cache needs positive sizes, got nLayers={nLayers} maxSeq={maxSeq} kvDim={kvDim}");
        _device = device;
        NLayers = nLayers; MaxSeq = maxSeq; KvDim = kvDim;
        long bytes = (long)nLayers * maxSeq * kvDim * sizeof(float);
        Keys = device.Allocate(bytes);
        try
        {
            Values = device.Allocate(bytes);
            Depth = device.Allocate((long)maxSeq * sizeof(int));
        }
        catch
        {
            Dispose();
            throw;
        }
        Reset();
    }

    public int NLayers { get; }
    public int MaxSeq { get; }
    public int KvDim { get; }

    /// <summary>Keys, [nLayers, maxSeq, kvDim] f32, already rotated by RoPE.</summary>
    public GpuBuffer Keys { get; }

    /// <summary>Values, [nLayers, maxSeq, kvDim] f32.</summary>
    public GpuBuffer Values { get; } = null!;

    /// <summary>[maxSeq] int32: layers the token at each position ran (nLayers = dense, 0 = not committed).</summary>
    public GpuBuffer Depth { get; } = null!;

    /// <summary>Bytes of one layer's keys (or values).</summary>
    public long LayerBytes => (long)MaxSeq * KvDim * sizeof(float);

    /// <summary>Forgets every position (depths back to 0); K/V contents are overwritten as positions are reused.</summary>
    public void Reset() => _device.Memset8(Depth.Ptr, 0, Depth.Bytes);

    public void Dispose()
    {
        Keys?.Dispose();
        Values?.Dispose();
        Depth?.Dispose();
    }
}
