using SpecEE.Core.EarlyExit;

namespace SpecEE.Tests.EarlyExit;

public class ExitScheduleTests
{
    private static readonly int[] Offline7B = [15, 16, 17, 19, 21, 24, 26, 28];

    private static ExitSchedule With(int nLayers, int[] offline, params int[] history)
    {
        var s = new ExitSchedule(nLayers, offline);
        foreach (int e in history) s.Record(e);
        return s;
    }

    [Test]
    public void FewerThanFiveEntries_OnlyOfflineSet()
    {
        var s = With(32, Offline7B, 31, 3, 3, 3); // prefill + 3 exits at layer 3
        Assert.That(s.ScheduledLayers(), Is.EqualTo(Offline7B));
        Assert.That(new ExitSchedule(32, Offline7B).ScheduledLayers(), Is.EqualTo(Offline7B));
    }

    [Test]
    public void FiveEntries_AddExitLayerAndPlusMinusTwo_NotPlusMinusOne()
    {
        var s = With(32, Offline7B, 10, 10, 10, 10, 10);
        Assert.That(s.ScheduledLayers(), Is.EqualTo(new[] { 8, 10, 12 }.Concat(Offline7B).Order()));
        Assert.That(s.IsScheduled(9), Is.False);
        Assert.That(s.IsScheduled(11), Is.False);
        Assert.That(s.ScheduledCount, Is.EqualTo(11));
    }

    [Test]
    public void OnlyTheLastFiveEntriesCount()
    {
        var s = With(32, [], 4, 10, 10, 10, 10, 10);      // the 4 dropped out of the window
        Assert.That(s.ScheduledLayers(), Is.EqualTo(new[] { 8, 10, 12 }));
        s.Record(6);                                        // window now 10,10,10,10,6
        Assert.That(s.ScheduledLayers(), Is.EqualTo(new[] { 4, 6, 8, 10, 12 }));
        Assert.That(s.HistoryCount, Is.EqualTo(7));
    }

    [Test]
    public void ClippedToZeroAndLastPredictorLayer()
    {
        // L = 32: predictors live on 0..30
        Assert.That(With(32, [], 0, 0, 0, 0, 0).ScheduledLayers(), Is.EqualTo(new[] { 0, 2 }));
        Assert.That(With(32, [], 1, 1, 1, 1, 1).ScheduledLayers(), Is.EqualTo(new[] { 1, 3 }));
        Assert.That(With(32, [], 30, 30, 30, 30, 30).ScheduledLayers(), Is.EqualTo(new[] { 28, 30 }));
    }

    [Test]
    public void NonExitEntries_ContributeOnlyLMinus3()
    {
        // prefill and non-exited steps are recorded as L−1 = 31: {29, 31, 33} clipped to {29}
        var s = With(32, [], 31, 31, 31, 31, 31);
        Assert.That(s.ScheduledLayers(), Is.EqualTo(new[] { 29 }));
        var mixed = With(32, Offline7B, 31, 20, 31, 22, 31);
        Assert.That(mixed.ScheduledLayers(), Is.EqualTo(new[] { 15, 16, 17, 18, 19, 20, 21, 22, 24, 26, 28, 29 }));
    }

    [Test]
    public void ResetStartsANewSession()
    {
        var s = With(32, Offline7B, 10, 10, 10, 10, 10);
        s.Reset();
        Assert.That(s.HistoryCount, Is.Zero);
        Assert.That(s.ScheduledLayers(), Is.EqualTo(Offline7B));
        foreach (int e in new[] { 2, 2, 2, 2 }) s.Record(e);
        Assert.That(s.IsScheduled(2), Is.False, "old entries must not survive a reset");
    }

    [Test]
    public void LayersWithoutPredictor_AreNeverScheduled()
    {
        var available = new bool[16];
        for (int l = 0; l < 15; l++) available[l] = l != 8;
        var s = new ExitSchedule(16, [3, 8], available);
        Assert.That(s.ScheduledLayers(), Is.EqualTo(new[] { 3 }));
        foreach (int e in new[] { 10, 10, 10, 10, 10 }) s.Record(e);
        Assert.That(s.ScheduledLayers(), Is.EqualTo(new[] { 3, 10, 12 }));
    }

    [Test]
    public void MaskWords_CoverDeepModels()
    {
        var s = With(80, [70], 65, 65, 65, 65, 65);
        Assert.That(s.MaskWords.Length, Is.EqualTo(2));
        Assert.That(s.MaskWords[0], Is.EqualTo(1UL << 63));                       // layer 63
        Assert.That(s.MaskWords[1], Is.EqualTo((1UL << 1) | (1UL << 3) | (1UL << 6))); // 65, 67, 70
        Assert.Throws<ArgumentOutOfRangeException>(() => s.Record(80));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ExitSchedule(80, [79]));
    }
}
