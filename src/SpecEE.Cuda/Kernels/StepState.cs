using SpecEE.Cuda.Device;
using SpecEE.Cuda.Interop;

namespace SpecEE.Cuda.Kernels;

/// <summary>
/// Layout of the device step-state block: a small array of int32 in device memory that carries everything
/// that changes from one decode step to the next (token, position, ...), so one captured CUDA graph is
/// replayed every step with no launch scalar changing. Kernels never see this layout: their launchers pass
/// the address of the one field a kernel reads (<see cref="Field"/>), e.g. <c>const int* pos</c>.
/// </summary>
/// <remarks>
/// <code>
/// offset  field       written by                         read by
///  0      Token       host (first step) / argmax, sample embed_*: input token of this step
///  1      Pos         host / step-advance                qkv_rope_* (RoPE angle, KV row), attention_f32
///  2      SeqLen      host / step-advance (= Pos + 1)    kernels that want the length (attention derives it from Pos)
///  3      Layer       reserved: current layer for a loop-driven (not unrolled) step; unused in part 1
///  4      Exited      part 2: 1 once this token exited early (later layer kernels become no-ops), else 0
///  5      ExitLayer   part 2: the layer after which the token exited (its depth = ExitLayer + 1)
///  6      NextToken   lm_head argmax / sample_f32: the token this step produced
///  7      Reserved    0
/// </code>
/// Every field is an int32; the block is <see cref="Bytes"/> bytes. New fields are appended at the end
/// (raise <see cref="Count"/>); existing offsets never move, because captured graphs bake in field addresses.
/// </remarks>
public static class StepState
{
    /// <summary>Input token of this step (int32); embed reads it.</summary>
    public const int Token = 0;

    /// <summary>Absolute position of the token (0-based); RoPE angle and KV-cache row.</summary>
    public const int Pos = 1;

    /// <summary>Pos + 1: positions the step's attention reads (kept equal to Pos + 1 by whoever writes Pos).</summary>
    public const int SeqLen = 2;

    /// <summary>Reserved: current layer for a loop-driven step (part 1 unrolls layers and passes them as launch scalars).</summary>
    public const int Layer = 3;

    /// <summary>Part 2: 1 once the token exited early, else 0.</summary>
    public const int Exited = 4;

    /// <summary>Part 2: index of the layer after which the token exited (depth = ExitLayer + 1).</summary>
    public const int ExitLayer = 5;

    /// <summary>Token produced by this step (argmax or sampling).</summary>
    public const int NextToken = 6;

    /// <summary>Number of int32 fields; new fields go at the end and raise this.</summary>
    public const int Count = 8;

    /// <summary>Size of the block in bytes.</summary>
    public const int Bytes = Count * sizeof(int);

    /// <summary>Device address of <paramref name="field"/> (one of the constants above) in <paramref name="block"/>.</summary>
    public static CUdeviceptr Field(GpuBuffer block, int field)
    {
        if ((uint)field >= Count) throw new ArgumentOutOfRangeException(nameof(field), $"step-state field {field} is not in [0, {Count})");
        if (block.Bytes < Bytes) throw new ArgumentException($"step-state block holds {block.Bytes} bytes, needs {Bytes}", nameof(block));
        return block.At(field * sizeof(int), sizeof(int));
    }
}
