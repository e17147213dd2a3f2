using SpecEE.Core.EarlyExit;

namespace SpecEE.Tests.EarlyExit;

public class ExitTrainingDataTests
{
    // L = 4: layers 0..2 have predictors. Two steps.
    private static ExitTrainingData Make()
    {
        var d = new ExitTrainingData(4);
        // step 0: candidates [5,6,7,8]; z: flat, peaked on c0, peaked on c0; argmax 9, 5, 5; final 5
        d.AddStep([5, 6, 7, 8], [0, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0], [9, 5, 5], 5);
        // step 1: candidates [1,2,3,4]; peaked at layer 0 but argmax 9 (not a candidate); final 2 reached at layer 1
        d.AddStep([1, 2, 3, 4], [3, 0, 0, 0, 0, 3, 0, 0, 0, 3, 0, 0], [9, 2, 2], 2);
        return d;
    }

    [Test]
    public void Samples_UseDeltaAgainstThePreviousLayer_AndLabelByFinalToken()
    {
        var s = Make().ToSamples();
        Assert.That(s.Count(0), Is.EqualTo(2));
        var (x1, y1) = s.Layer(1);
        double p0 = Math.Exp(3) / (Math.Exp(3) + 3);
        Assert.That(x1[4], Is.EqualTo(p0).Within(1e-6));
        Assert.That(x1[8], Is.EqualTo(p0 - 0.25).Within(1e-6), "step 0, layer 1: Δ against layer 0's uniform p");
        Assert.That(x1[12 + 9], Is.EqualTo(p0 - (1 - p0) / 3).Within(1e-6), "step 1, layer 1: Δ1 = p1(layer 1) − p1(layer 0)");
        Assert.That(y1, Is.EqualTo(new[] { true, true }));
        Assert.That(s.Layer(0).Labels, Is.EqualTo(new[] { false, false }));
    }

    [Test]
    public void CountExits_ReplaysWithAllPredictorsActive()
    {
        var up = new float[12];
        up[4] = 1f; // fires iff p0 > 0.5
        var fireOnP0 = new ExitPredictor(up, [-0.5f], [1f], 0f);
        var set = new PredictorSet(4, [fireOnP0, fireOnP0, fireOnP0], null);
        var sel = Make().CountExits(set);
        // step 0: layer 0 no fire, layer 1 fires and argmax 5 ∈ candidates → exit at 1
        // step 1: layer 0 fires but 9 ∉ candidates; layers 1, 2 have p0 small → no exit
        Assert.That(sel.ExitCounts.ToArray(), Is.EqualTo(new long[] { 0, 1, 0 }));
        Assert.That((sel.Positions, sel.Exits), Is.EqualTo((2L, 1L)));
    }

    [Test]
    public void SaveLoad_RoundTrips()
    {
        string path = TestPaths.TempFile("data.safetensors");
        Make().Save(path);
        var back = ExitTrainingData.Load(path);
        Assert.That(back.NLayers, Is.EqualTo(4));
        Assert.That(back.Steps, Is.EqualTo(2));
        var a = Make().ToSamples();
        var b = back.ToSamples();
        for (int l = 0; l < 3; l++)
        {
            Assert.That(b.Layer(l).Features, Is.EqualTo(a.Layer(l).Features));
            Assert.That(b.Layer(l).Labels, Is.EqualTo(a.Layer(l).Labels));
        }
    }
}
