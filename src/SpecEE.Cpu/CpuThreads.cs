namespace SpecEE.Cpu;

/// <summary>Work that can be split into independent parts; <see cref="Execute"/> runs part <c>part</c> of <c>parts</c>.</summary>
internal interface IParallelJob
{
    void Execute(int part, int parts);
}

/// <summary>Thread-count policy of the CPU backend.</summary>
public static class CpuThreads
{
    /// <summary>
    /// Default worker count: every core the process may use (at most 64). Work too small to pay
    /// for a split stays on the calling thread anyway (see <see cref="CpuLlama.MinParallelMacs"/>).
    /// </summary>
    public static int Auto() => Math.Clamp(Environment.ProcessorCount, 1, 64);
}

/// <summary>
/// A fixed set of worker threads plus the caller: <see cref="Run"/> hands part i of a job to participant i
/// and returns when all parts are done.
/// </summary>
/// <remarks>
/// Decode dispatches a job per layer, every few microseconds, so the hand-off must not go through the
/// kernel: a job is published by bumping <c>_generation</c>, and idle workers spin on it (yielding the core
/// between polls, never sleeping) for about <see cref="SpinBeforeSleep"/> before they block on their own
/// event. Blocking is a Dekker handshake: the worker resets its event, raises <c>_sleeping[i]</c>, re-reads the
/// generation; the caller bumps the generation, then sets the event of every worker that is asleep. Both sides
/// use full fences, so one of them always sees the other and no wake-up is lost.
/// </remarks>
internal sealed class CpuWorkerPool : IDisposable
{
    /// <summary>
    /// Default for <see cref="CpuMatMul.MinParallelMacs"/>: below this many multiply-adds a job runs on the calling
    /// thread. Measured on a 2-core Zen 3 VM: splitting a tinystories-16L decode layer (0.2 M MACs) over 2 threads
    /// gave ~2.4k tok/s against ~1.9k on one; a stories260K layer (45 K MACs) about broke even.
    /// </summary>
    public const long MinParallelMacs = 1 << 16;

    /// <summary>How long an idle worker polls for the next job before it blocks.</summary>
    private static readonly long SpinBeforeSleep = System.Diagnostics.Stopwatch.Frequency / 5000; // 200 µs

    private readonly Thread[] _workers;
    private readonly ManualResetEventSlim[] _wake;
    private readonly int[] _sleeping;
    private IParallelJob? _job;
    private int _parts;
    private int _generation;
    private int _remaining;
    private volatile bool _stopping;

    /// <summary>Total participants, the calling thread included.</summary>
    public int Count { get; }

    /// <summary>Switches splitting off while the machine is oversubscribed (see <see cref="CpuSplitGovernor"/>).</summary>
    public CpuSplitGovernor Governor { get; } = new();

    /// <summary>
    /// Whether a job worth splitting should be split now: false on a one-thread pool and while the governor backs
    /// off. Each false answer during a back-off counts as one unsplit job, so ask once per job.
    /// </summary>
    public bool ShouldSplit() => Count > 1 && Governor.AllowSplit();

    // The caller's time spent waiting in the current dispatch: the final join plus what jobs report (barriers).
    private long _callerWaitTicks;

    /// <summary>A job's barrier wait on the calling thread (participant 0); counted towards the stall check.</summary>
    public void AddCallerWait(long ticks) => _callerWaitTicks += ticks;

    public CpuWorkerPool(int participants)
    {
        Count = Math.Max(1, participants);
        _workers = new Thread[Count - 1];
        _wake = new ManualResetEventSlim[Count - 1];
        _sleeping = new int[Count - 1];
        for (int i = 0; i < _workers.Length; i++)
        {
            _wake[i] = new ManualResetEventSlim(false, spinCount: 1);
            int index = i;
            _workers[i] = new Thread(() => WorkerLoop(index)) { IsBackground = true, Name = $"specee-cpu-{i + 1}" };
            _workers[i].Start();
        }
    }

    /// <summary>Runs <paramref name="job"/> split into <see cref="Count"/> parts (or 1 when <paramref name="parallel"/> is false).</summary>
    public void Run(IParallelJob job, bool parallel = true)
    {
        if (!parallel || Count == 1)
        {
            job.Execute(0, 1);
            return;
        }
        ObjectDisposedException.ThrowIf(_stopping, this);
        long start = System.Diagnostics.Stopwatch.GetTimestamp();
        _callerWaitTicks = 0;
        _job = job;
        _parts = Count;
        Volatile.Write(ref _remaining, Count - 1);
        Interlocked.Increment(ref _generation);
        WakeSleepers();
        job.Execute(0, Count);
        long joinStart = System.Diagnostics.Stopwatch.GetTimestamp();
        var spin = new SpinWait();
        while (Volatile.Read(ref _remaining) != 0) spin.SpinOnce(sleep1Threshold: -1);
        _job = null;
        long end = System.Diagnostics.Stopwatch.GetTimestamp();
        Governor.Record(end - start, _callerWaitTicks + (end - joinStart));
    }

    private void WakeSleepers()
    {
        for (int i = 0; i < _sleeping.Length; i++)
            if (Volatile.Read(ref _sleeping[i]) != 0) _wake[i].Set();
    }

    private void WorkerLoop(int index)
    {
        int seen = 0; // the generation at construction: a job may be published before this thread first runs
        while (true)
        {
            seen = AwaitNextJob(index, seen);
            if (_stopping) return;
            _job!.Execute(index + 1, _parts);
            Interlocked.Decrement(ref _remaining);
        }
    }

    /// <summary>Returns the new generation once it differs from <paramref name="seen"/> (or the pool is stopping).</summary>
    private int AwaitNextJob(int index, int seen)
    {
        long deadline = System.Diagnostics.Stopwatch.GetTimestamp() + SpinBeforeSleep;
        var spin = new SpinWait();
        while (true)
        {
            int g = Volatile.Read(ref _generation);
            if (g != seen || _stopping) return g;
            if (System.Diagnostics.Stopwatch.GetTimestamp() < deadline) { spin.SpinOnce(sleep1Threshold: -1); continue; }

            _wake[index].Reset();
            Interlocked.Exchange(ref _sleeping[index], 1);
            g = Volatile.Read(ref _generation);
            if (g == seen && !_stopping) _wake[index].Wait();
            Interlocked.Exchange(ref _sleeping[index], 0);
            deadline = System.Diagnostics.Stopwatch.GetTimestamp() + SpinBeforeSleep;
            spin = new SpinWait();
        }
    }

    public void Dispose()
    {
        _stopping = true;
        Interlocked.Increment(ref _generation);
        foreach (var w in _wake) w.Set();
        foreach (var t in _workers) t.Join();
        foreach (var w in _wake) w.Dispose();
    }

    /// <summary>Rows [r0, r1) of part <paramref name="part"/> when <paramref name="rows"/> are split in multiples of 4.</summary>
    public static (int R0, int R1) RowRange(int rows, int part, int parts)
    {
        int blocks = (rows + 3) / 4;
        int b0 = (int)((long)blocks * part / parts), b1 = (int)((long)blocks * (part + 1) / parts);
        return (Math.Min(rows, 4 * b0), Math.Min(rows, 4 * b1));
    }
}
