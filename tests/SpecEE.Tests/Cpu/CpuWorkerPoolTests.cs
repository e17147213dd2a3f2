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
