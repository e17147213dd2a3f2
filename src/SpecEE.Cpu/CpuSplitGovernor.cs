namespace SpecEE.Cpu;

/// <summary>
/// Decides whether the next job may be split over the worker pool, from how long the calling thread had to wait
/// for the others in recent dispatches.
/// </summary>
/// <remarks>
/// A decode layer on a small model is tens of microseconds split in 2–5 barrier phases. When the machine is
/// oversubscribed (other processes on every core), a worker is often descheduled in the middle, and the caller
/// spins for a whole scheduler quantum at a barrier: measured on 2 cores with 2 busy processes, tinystories-16L
/// fell from ~585 tok/s on one thread to ~33 tok/s on two. The pool therefore watches the caller's wait: a
/// dispatch is <i>stalled</i> when the caller waited more than <see cref="StallTicks"/> and more than half of the
/// dispatch. After <see cref="StrikesToBackOff"/> stalls (a quiet dispatch takes one back) the next
/// <see cref="BackOffDispatches"/> jobs run on the caller alone, then splitting is tried again. Results do not
/// change: every job gives bit-identical output split or not. Called from the calling thread only.
/// </remarks>
internal sealed class CpuSplitGovernor
{
    /// <summary>A wait shorter than this never counts as a stall (200 µs: several decode layers of the small models).</summary>
    public static readonly long StallTicks = System.Diagnostics.Stopwatch.Frequency / 5000;

    /// <summary>Stalls, net of quiet dispatches, that switch splitting off.</summary>
    public const int StrikesToBackOff = 3;

    /// <summary>Jobs run unsplit before splitting is tried again (a few hundred ms of small-model decode).</summary>
    public const int BackOffDispatches = 4096;

    private int _strikes;
    private int _unsplitLeft;

    /// <summary>Dispatches judged stalled since construction.</summary>
    public long Stalls { get; private set; }

    /// <summary>Times splitting was switched off.</summary>
    public long BackOffs { get; private set; }

    /// <summary>True when the next job may be split; false (and one job of the back-off counted) while backing off.</summary>
    public bool AllowSplit()
    {
        if (_unsplitLeft == 0) return true;
        _unsplitLeft--;
        return false;
    }

    /// <summary>Runs the next <paramref name="dispatches"/> jobs unsplit, as after a detected stall (tests use it).</summary>
    internal void BackOff(int dispatches)
    {
        _strikes = 0;
        _unsplitLeft = Math.Max(0, dispatches);
    }

    /// <summary>Records one split dispatch: its wall time and how long the caller spent waiting for the others.</summary>
    public void Record(long dispatchTicks, long callerWaitTicks)
    {
        bool stalled = callerWaitTicks > StallTicks && 2 * callerWaitTicks > dispatchTicks;
        if (!stalled)
        {
            if (_strikes > 0) _strikes--;
            return;
        }
        Stalls++;
        if (++_strikes < StrikesToBackOff) return;
        _strikes = 0;
        _unsplitLeft = BackOffDispatches;
        BackOffs++;
    }
}
