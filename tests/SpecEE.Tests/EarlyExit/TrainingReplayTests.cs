using SpecEE.Core.EarlyExit;

namespace SpecEE.Tests.EarlyExit;

/// <summary>Corpus chunking and the Δ bookkeeping of the two training-row builders, on hand-made cases.</summary>
public class TrainingReplayTests
{
    [Test]
    public void BlankLineChunks_SplitOnBlankLines_AndSequencesRespectTheBudget()
    {
        string text = "a b\nc\n\n\n  \nd e f\r\n\r\ng";
        Assert.That(TextCorpus.BlankLineChunks(text).ToArray(), Is.EqualTo(new[] { "a b\nc", "d e f", "g" }));
        // encoder: BOS + one id per character
        int[] Enc(string s) => [1, .. s.Select(ch => (int)ch)];
        var seqs = TextCorpus.Sequences(text, Enc, maxScored: 7, maxSeq: 4, minTokens: 2);
        // "a b\nc" → 6 ids cut to maxSeq 4 (3 scored); "d e f" → 6 ids cut to 4 (3 scored); "g" → 2 ids, 1 scored left
        Assert.That(seqs.Select(s => s.Length).ToArray(), Is.EqualTo(new[] { 4, 4, 2 }));
        Assert.That(seqs.Sum(s => s.Length - 1), Is.EqualTo(7));
    }

    [Test]
    public void ScheduledSamples_UseDeltaAgainstThePreviousScheduledLayer()
    {
        // L = 4: predictors after layers 0..2; offline set {0, 2}. One step, fewer than 5 history entries, so
        // only the offline layers are scheduled and layer 2's Δ is against layer 0 (previous layer: against layer 1).
        var p = new ExitPredictor(new float[12], [0f], [0f], -20f); // never fires
        var set = new PredictorSet(4, [p, p, p], [0, 2]);
        var data = new ExitTrainingData(4);
        float[] z = [0, 0, 0, 0, /*l1*/ 1, 0, 0, 0, /*l2*/ 2, 0, 0, 0];
        var part = new ExitTrainingData(4);
        part.AddStep([5, 6, 7, 8], z, [5, 9, 5], finalToken: 5);
        data.Append(part);

        var scheduled = data.ToScheduledSamples(set);
        Assert.That(scheduled.Count(0), Is.EqualTo(1));
        Assert.That(scheduled.Count(1), Is.Zero, "layer 1 is not scheduled");
        var (x2, y2) = scheduled.Layer(2);
        Span<float> p0 = stackalloc float[4], p2 = stackalloc float[4];
        ExitFeatures.Softmax4([0, 0, 0, 0], p0);
        ExitFeatures.Softmax4([2, 0, 0, 0], p2);
        for (int i = 0; i < 4; i++) Assert.That(x2[8 + i], Is.EqualTo(p2[i] - p0[i]).Within(1e-6), $"Δ{i}");
        Assert.That(y2[0], Is.True);

        var previous = data.ToSamples();
        Assert.That(previous.Count(1), Is.EqualTo(1), "the official rows cover every layer");
        Span<float> p1 = stackalloc float[4];
        ExitFeatures.Softmax4([1, 0, 0, 0], p1);
        var (xp, _) = previous.Layer(2);
        for (int i = 0; i < 4; i++) Assert.That(xp[8 + i], Is.EqualTo(p2[i] - p1[i]).Within(1e-6), $"official Δ{i}");
    }
}
