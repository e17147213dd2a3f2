using SpecEE.Core.Model;

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
    /// Default worker count for <paramref name="config"/>: every core the process may use. Decode GEMVs of small
    /// matrices stay on the calling thread anyway (see <see cref="CpuWorkerPool.MinParallelMacs"/>), so
    /// extra threads only serve the batched prefill and big matrices.
    /// </summary>
    public static int Auto(LlamaConfig config) => Math.Clamp(Environment.ProcessorCount, 1, 64);
}

/// <summary>
/// A fixed set of worker threads plus the caller: <see cref="Run"/> hands part i of a job to participant i
/// and returns when all parts are done. Workers spin briefly, then block, so an idle pool costs no CPU.
/// </summary>
internal sealed class CpuWorkerPool : IDisposable
{
    /// <summary>Below this many multiply-adds a job runs on the calling thread: waking workers costs a few µs.</summary>
    public const long MinParallelMacs = 1 << 20;

    private readonly Thread[] _workers;
    private readonly ManualResetEventSlim[] _start;
    private readonly ManualResetEventSlim _done = new(false, spinCount: 2000);
    private IParallelJob? _job;
    private int _parts;
    private int _remaining;
    private volatile bool _stopping;

    /// <summary>Total participants, the calling thread included.</summary>
    public int Count { get; }

    public CpuWorkerPool(int participants)
    {
        Count = Math.Max(1, participants);
        _workers = new Thread[Count - 1];
        _start = new ManualResetEventSlim[Count - 1];
        for (int i = 0; i < _workers.Length; i++)
        {
            _start[i] = new ManualResetEventSlim(false, spinCount: 2000);
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
        _job = job;
        _parts = Count;
        _done.Reset();
        Volatile.Write(ref _remaining, Count - 1);
        foreach (var s in _start) s.Set();
        job.Execute(0, Count);
        _done.Wait();
        _job = null;
    }

    private void WorkerLoop(int index)
    {
        var start = _start[index];
        while (true)
        {
            start.Wait();
            start.Reset();
            if (_stopping) return;
            _job!.Execute(index + 1, _parts);
            if (Interlocked.Decrement(ref _remaining) == 0) _done.Set();
        }
    }

    public void Dispose()
    {
        _stopping = true;
        foreach (var s in _start) s.Set();
        foreach (var t in _workers) t.Join();
        foreach (var s in _start) s.Dispose();
        _done.Dispose();
    }

    /// <summary>Rows [r0, r1) of part <paramref name="part"/> when <paramref name="rows"/> are split in multiples of 4.</summary>
    public static (int R0, int R1) RowRange(int rows, int part, int parts)
    {
        int blocks = (rows + 3) / 4;
        int b0 = (int)((long)blocks * part / parts), b1 = (int)((long)blocks * (part + 1) / parts);
        return (Math.Min(rows, 4 * b0), Math.Min(rows, 4 * b1));
    }
}
