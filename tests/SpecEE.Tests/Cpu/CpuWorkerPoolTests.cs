using SpecEE.Cpu;

namespace SpecEE.Tests.Cpu;

public class CpuWorkerPoolTests
{
    private sealed class CountingJob(int parts) : IParallelJob
    {
        public readonly int[] Calls = new int[parts];
        public int SeenParts = -1;
        public void Execute(int part, int parts)
        {
            Interlocked.Increment(ref Calls[part]);
            SeenParts = parts;
        }
    }

    private static void WithinSeconds(int seconds, Action body) =>
        Assert.That(Task.Run(body).Wait(TimeSpan.FromSeconds(seconds)), Is.True, $"did not finish within {seconds} s (lost wake-up?)");

    [TestCase(2)]
    [TestCase(3)]
    public void Run_ExecutesEveryPartExactlyOncePerDispatch(int threads)
    {
        WithinSeconds(60, () =>
        {
            using var pool = new CpuWorkerPool(threads);
            var job = new CountingJob(threads);
            for (int i = 0; i < 20000; i++)
            {
                pool.Run(job);
                if (i % 5000 == 0) Thread.Sleep(5); // long enough for idle workers to block, so wake-ups are exercised
            }
            Assert.That(job.Calls, Is.All.EqualTo(20000));
            Assert.That(job.SeenParts, Is.EqualTo(threads));
        });
    }

    [Test]
    public void JobPublishedBeforeWorkersStart_IsNotLost()
    {
        WithinSeconds(60, () =>
        {
            for (int i = 0; i < 200; i++)
            {
                using var pool = new CpuWorkerPool(2);
                var job = new CountingJob(2);
                pool.Run(job);
                Assert.That(job.Calls, Is.EqualTo(new[] { 1, 1 }));
            }
        });
    }

    [Test]
    public void RunAfterDispose_Throws()
    {
        var pool = new CpuWorkerPool(2);
        pool.Dispose();
        Assert.That(() => pool.Run(new CountingJob(2)), Throws.TypeOf<ObjectDisposedException>());
    }

    [Test]
    public void RowRange_CoversAllRowsInBlocksOfFour()
    {
        foreach (int rows in new[] { 1, 5, 64, 172, 384, 513 })
            foreach (int parts in new[] { 1, 2, 3, 16 })
            {
                int next = 0;
                for (int p = 0; p < parts; p++)
                {
                    var (r0, r1) = CpuWorkerPool.RowRange(rows, p, parts);
                    Assert.That(r0, Is.EqualTo(next), $"rows={rows} parts={parts} part={p}");
                    Assert.That(r0 % 4 == 0 || r0 == rows, Is.True);
                    next = r1;
                }
                Assert.That(next, Is.EqualTo(rows));
            }
    }
}

/// <summary>The pool's stall check (<see cref="CpuSplitGovernor"/>): backs off on an oversubscribed machine, never changes results.</summary>
public class CpuSplitGovernorTests
{
    private static readonly long Stall = 4 * CpuSplitGovernor.StallTicks;

    [Test]
    public void ThreeStalls_SwitchSplittingOffForTheBackOffWindow_ThenOnAgain()
    {
        var g = new CpuSplitGovernor();
        g.Record(Stall + 10, Stall);         // waited nearly all of the dispatch: stalled
        g.Record(Stall + 10, Stall);
        Assert.That(g.AllowSplit(), Is.True, "two stalls are not enough");
        g.Record(Stall + 10, Stall);
        Assert.That(g.Stalls, Is.EqualTo(3));
        Assert.That(g.BackOffs, Is.EqualTo(1));
        for (int i = 0; i < CpuSplitGovernor.BackOffDispatches; i++) Assert.That(g.AllowSplit(), Is.False, $"job {i} of the back-off");
        Assert.That(g.AllowSplit(), Is.True, "after the window splitting is tried again");
    }

    [Test]
    public void QuietDispatches_TakeStrikesBack_AndShortOrProportionateWaitsAreNotStalls()
    {
        var g = new CpuSplitGovernor();
        for (int i = 0; i < 10; i++)
        {
            g.Record(Stall + 10, Stall);     // stall
            g.Record(Stall + 10, Stall);     // stall
            g.Record(1000, 10);              // quiet
            g.Record(1000, 10);              // quiet: back to zero strikes
        }
        g.Record(10 * Stall, 2 * Stall);    // long wait, but a fifth of a long dispatch: imbalance, not a stall
        g.Record(CpuSplitGovernor.StallTicks, CpuSplitGovernor.StallTicks - 1); // all wait, but short
        Assert.That(g.BackOffs, Is.Zero);
        Assert.That(g.Stalls, Is.EqualTo(20));
        Assert.That(g.AllowSplit(), Is.True);
    }

    private sealed class UnevenJob(int sleepMs) : IParallelJob
    {
        public void Execute(int part, int parts)
        {
            if (part == 1) Thread.Sleep(sleepMs); // a worker that is descheduled mid-dispatch
        }
    }

    [Test]
    public void Pool_WhoseWorkerKeepsTheCallerWaiting_StopsSplitting()
    {
        using var pool = new CpuWorkerPool(2);
        for (int i = 0; i < CpuSplitGovernor.StrikesToBackOff; i++)
        {
            Assert.That(pool.ShouldSplit(), Is.True);
            pool.Run(new UnevenJob(5));
        }
        Assert.That(pool.Governor.BackOffs, Is.EqualTo(1));
        Assert.That(pool.ShouldSplit(), Is.False);
    }

    [Test]
    public void Decode_WithSplittingSwitchedOffMidway_GivesBitIdenticalLogits()
    {
        var model = SpecEE.Core.Formats.ModelLoader.Load(TestPaths.DefaultModelDir);
        float[][] Run(bool backOff)
        {
            using var llama = new CpuLlama(model, maxSeq: 64, threads: 2) { MinParallelMacs = 0 };
            var logits = new List<float[]>();
            int token = model.Config.BosId;
            for (int pos = 0; pos < 24; pos++)
            {
                if (backOff && pos == 8) llama.SplitGovernor.BackOff(100); // part of a step split, the rest not
                var l = llama.Forward(token, pos).ToArray();
                logits.Add(l);
                token = Array.IndexOf(l, l.Max());
            }
            return logits.ToArray();
        }
        Assert.That(Run(backOff: true), Is.EqualTo(Run(backOff: false)));
    }
}
