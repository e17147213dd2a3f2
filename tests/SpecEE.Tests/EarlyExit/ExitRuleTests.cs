using SpecEE.Core.EarlyExit;

namespace SpecEE.Tests.EarlyExit;

public class ExitRuleTests
{
    [Test]
    public void Exits_OnlyWhenFiredAndArgmaxIsACandidate()
    {
        int[] candidates = [7, 3, 11, 0];
        Assert.That(ExitRule.ShouldExit(true, 3, candidates), Is.True);
        Assert.That(ExitRule.ShouldExit(true, 0, candidates), Is.True);
        Assert.That(ExitRule.ShouldExit(false, 3, candidates), Is.False, "no exit when the predictor did not fire");
        Assert.That(ExitRule.ShouldExit(true, 4, candidates), Is.False, "no exit when the argmax is not a candidate");
    }

    [Test]
    public void TryExit_EmitsTheFullVocabularyArgmax()
    {
        //                 0    1    2    3    4    5
        float[] logits = [0.1f, 5f, 2f, 4.9f, -1f, 3f];
        Assert.That(ExitRule.TryExit(logits, [3, 1, 5, 2], out int t), Is.True);
        Assert.That(t, Is.EqualTo(1));
        // argmax 1 is not among the candidates although candidate 3 is close: verification fails, no exit
        Assert.That(ExitRule.TryExit(logits, [3, 0, 5, 2], out t), Is.False);
        Assert.That(t, Is.EqualTo(1));
    }

    [Test]
    public void Argmax_LowestIndexWinsTies()
    {
        Assert.That(ExitRule.Argmax([1f, 3f, 3f, 2f]), Is.EqualTo(1));
        Assert.That(ExitRule.Argmax([float.NaN, -5f]), Is.EqualTo(1));
    }
}
