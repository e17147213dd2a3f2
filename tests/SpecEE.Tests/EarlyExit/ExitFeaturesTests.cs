using SpecEE.Core.EarlyExit;

namespace SpecEE.Tests.EarlyExit;

public class ExitFeaturesTests
{
    // softmax over 4 values by hand, in double: e^z_i / Σ_j e^z_j
    private static double[] Softmax(params double[] z)
    {
        double s = z.Sum(Math.Exp);
        return z.Select(v => Math.Exp(v) / s).ToArray();
    }

    [Test]
    public void FirstScheduledLayer_FeaturesAreLogitsProbabilitiesAndDeltaEqualsP()
    {
        var f = new ExitFeatures();
        var x = new float[12];
        f.Compute([1f, 2f, 3f, 4f], x);

        double[] p = Softmax(1, 2, 3, 4);
        // the well-known values of softmax([1,2,3,4]) as an independent check of the hand formula
        Assert.That(p, Is.EqualTo(new[] { 0.0320586, 0.0871443, 0.2368828, 0.6439142 }).Within(1e-7));
        Assert.That(x[..4], Is.EqualTo(new[] { 1f, 2f, 3f, 4f }));
        for (int i = 0; i < 4; i++)
        {
            Assert.That(x[4 + i], Is.EqualTo(p[i]).Within(1e-6), $"p{i}");
            Assert.That(x[8 + i], Is.EqualTo(p[i]).Within(1e-6), $"Δ{i} must equal p{i} at the first scheduled layer");
        }
    }

    [Test]
    public void LaterLayers_DeltaIsAgainstPreviousScheduledLayer_AndResetStartsAStep()
    {
        var f = new ExitFeatures();
        var x = new float[12];
        f.Compute([1f, 2f, 3f, 4f], x);   // e.g. layer 15
        f.Compute([4f, 3f, 2f, 1f], x);   // next scheduled layer, e.g. 17 (16 not scheduled: nothing in between)
        double[] p1 = Softmax(1, 2, 3, 4), p2 = Softmax(4, 3, 2, 1);
        for (int i = 0; i < 4; i++)
        {
            Assert.That(x[4 + i], Is.EqualTo(p2[i]).Within(1e-6));
            Assert.That(x[8 + i], Is.EqualTo(p2[i] - p1[i]).Within(1e-6), $"Δ{i}");
        }
        // Δ0 = 0.6439142 − 0.0320586 by the table above
        Assert.That(x[8], Is.EqualTo(0.6118556).Within(1e-6));

        f.Compute([0f, 0f, 0f, 0f], x);   // uniform after the second: Δ relative to p2
        for (int i = 0; i < 4; i++) Assert.That(x[8 + i], Is.EqualTo(0.25 - p2[i]).Within(1e-6));

        f.Reset();                         // next decode step
        Assert.That(f.HasPrevious, Is.False);
        f.Compute([4f, 3f, 2f, 1f], x);
        for (int i = 0; i < 4; i++) Assert.That(x[8 + i], Is.EqualTo(p2[i]).Within(1e-6), "after Reset Δ = p");
    }

    [Test]
    public void Softmax_IsStableForLargeLogits()
    {
        var f = new ExitFeatures();
        var x = new float[12];
        f.Compute([1000f, 999f, -1000f, 998f], x);
        double[] p = Softmax(2, 1, -1998, 0); // shift-invariant
        for (int i = 0; i < 4; i++) Assert.That(x[4 + i], Is.EqualTo(p[i]).Within(1e-6));
    }

    [Test]
    public void CandidateLogits_AreDotProductsWithTheCandidatesLmHeadRows()
    {
        // lmHead [vocab 5, dim 3]: row v = [v, 1, −v]
        int dim = 3;
        var head = new float[5 * dim];
        for (int v = 0; v < 5; v++) { head[v * 3] = v; head[v * 3 + 1] = 1; head[v * 3 + 2] = -v; }
        float[] h = [2f, 10f, 0.5f];
        var z = new float[4];
        ExitFeatures.CandidateLogits(head, dim, [4, 0, 2, 3], h, z);
        // z = 2v + 10 − 0.5v = 1.5v + 10
        Assert.That(z, Is.EqualTo(new[] { 16f, 10f, 13f, 14.5f }));
        Assert.Throws<SpecEE.Core.InvalidRequestException>(() => ExitFeatures.CandidateLogits(head, dim, [5, 0, 1, 2], h, z));
    }
}
