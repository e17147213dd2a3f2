using SpecEE.Core;
using SpecEE.Core.Sampling;

namespace SpecEE.Tests.Sampling;

public class SamplerTests
{
    [Test]
    public void Argmax_LowestIndexWinsTies_NaNNeverWins()
    {
        Assert.That(Sampler.Argmax([1f, 3f, 2f, 3f]), Is.EqualTo(1));
        Assert.That(Sampler.Argmax([float.NaN, -5f, -5f]), Is.EqualTo(1));
        Assert.That(Sampler.Argmax([float.NegativeInfinity, float.NegativeInfinity]), Is.EqualTo(0));
        Assert.That(new Sampler().Sample([0f, 0.5f, 0.5f]), Is.EqualTo(1), "temperature 0 is greedy");
    }

    [Test]
    public void SameSeed_SameTokens_DifferentSeed_DifferentTokens()
    {
        float[] logits = Enumerable.Range(0, 50).Select(i => MathF.Sin(i)).ToArray();
        int[] Draw(ulong seed)
        {
            var s = new Sampler(temperature: 1f, topP: 0.9f, seed: seed);
            return Enumerable.Range(0, 64).Select(_ => s.Sample(logits)).ToArray();
        }
        Assert.That(Draw(42), Is.EqualTo(Draw(42)));
        Assert.That(Draw(42), Is.Not.EqualTo(Draw(43)));
    }

    [Test]
    public void Temperature_SamplesTheSoftmaxDistribution()
    {
        // logits ln(1), ln(2), ln(5) at T = 1 → p = 0.125, 0.25, 0.625; at T = 2 → ∝ 1, √2, √5.
        float[] logits = [0f, MathF.Log(2f), MathF.Log(5f)];
        void Check(float t, double[] p)
        {
            var s = new Sampler(temperature: t, seed: 7);
            const int n = 40000;
            var counts = new int[3];
            for (int i = 0; i < n; i++) counts[s.Sample(logits)]++;
            for (int k = 0; k < 3; k++)
                Assert.That(counts[k] / (double)n, Is.EqualTo(p[k]).Within(0.01), $"T={t} token {k}"); // ≥ 4σ at n = 40000
        }
        Check(1f, [0.125, 0.25, 0.625]);
        double z = 1 + Math.Sqrt(2) + Math.Sqrt(5);
        Check(2f, [1 / z, Math.Sqrt(2) / z, Math.Sqrt(5) / z]);
    }

    [Test]
    public void TopP_KeepsTheSmallestNucleusAndRenormalises()
    {
        // p = 0.5, 0.3, 0.15, 0.05 (ids shuffled to 2, 0, 3, 1).
        float[] logits = [MathF.Log(0.3f), MathF.Log(0.05f), MathF.Log(0.5f), MathF.Log(0.15f)];
        int[] Counts(float topP)
        {
            var s = new Sampler(temperature: 1f, topP: topP, seed: 11);
            var c = new int[4];
            for (int i = 0; i < 20000; i++) c[s.Sample(logits)]++;
            return c;
        }
        var a = Counts(0.4f);   // 0.5 alone reaches 0.4
        Assert.That(a, Is.EqualTo(new[] { 0, 0, 20000, 0 }));
        var b = Counts(0.75f);  // 0.5 + 0.3 = 0.8 ≥ 0.75 → ids 2 and 0, renormalised to 0.625 / 0.375
        Assert.That(b[1] + b[3], Is.Zero);
        Assert.That(b[2] / 20000.0, Is.EqualTo(0.625).Within(0.015));
        var c = Counts(0.9f);   // needs 0.15 too → ids 2, 0, 3
        Assert.That(c[1], Is.Zero);
        Assert.That(c[3] / 20000.0, Is.EqualTo(0.15 / 0.95).Within(0.015));
    }

    [Test]
    public void BadSettings_ThrowInvalidRequest()
    {
        Assert.That(() => new Sampler(temperature: -1f), Throws.TypeOf<InvalidRequestException>());
        Assert.That(() => new Sampler(temperature: float.NaN), Throws.TypeOf<InvalidRequestException>());
        Assert.That(() => new Sampler(temperature: 1f, topP: 0f), Throws.TypeOf<InvalidRequestException>());
        Assert.That(() => new Sampler(temperature: 1f, topP: 1.5f), Throws.TypeOf<InvalidRequestException>());
        Assert.That(() => Sampler.Argmax([]), Throws.TypeOf<InvalidRequestException>());
    }
}
