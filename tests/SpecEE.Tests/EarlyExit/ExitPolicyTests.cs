using SpecEE.Core.EarlyExit;

namespace SpecEE.Tests.EarlyExit;

public class ExitPolicyTests
{
    // A predictor whose logit is ReLU(p0 − 0.5): sigmoid > 0.5 exactly when p0 > 0.5 (hidden 1).
    private static ExitPredictor FiresWhenP0AboveHalf()
    {
        var up = new float[12];
        up[4] = 1f;
        return new ExitPredictor(up, [-0.5f], [1f], 0f);
    }

    // Simulates the layer loop of one step; zAt/argmaxAt give what the model would produce at each layer.
    private static int Step(ExitPolicy policy, Func<int, float[]> zAt, Func<int, int> argmaxAt)
    {
        policy.BeginStep([10, 11, 12, 13]);
        int exit = policy.NLayers - 1;
        for (int l = 0; l < policy.NLayers - 1; l++)
        {
            if (!policy.IsScheduled(l)) continue;
            if (policy.PredictorFires(l, zAt(l)) && policy.Verify(argmaxAt(l))) { exit = l; break; }
        }
        policy.EndStep(exit);
        return exit;
    }

    [Test]
    public void DrivesScheduleFeaturesVerificationAndStatistics()
    {
        var preds = Enumerable.Range(0, 7).Select(_ => (ExitPredictor?)FiresWhenP0AboveHalf()).ToArray();
        var policy = new ExitPolicy(new PredictorSet(8, preds, [2, 5]));
        policy.BeginSession();
        policy.RecordPrefill();

        float[] flat = [0, 0, 0, 0], peaked = [3, 0, 0, 0];
        // step 1: layer 2 flat (no fire); layer 5 fires but its argmax 99 is no candidate → runs all 8 layers
        int e1 = Step(policy, l => l == 2 ? flat : peaked, _ => 99);
        Assert.That(e1, Is.EqualTo(7));
        // the features at layer 5 had Δ against layer 2 (the previous scheduled layer), not against zeros
        double p0 = Math.Exp(3) / (Math.Exp(3) + 3);
        Assert.That(policy.LastFeatures[8], Is.EqualTo(p0 - 0.25).Within(1e-6));

        // step 2: layer 2 fires and its argmax 10 is candidate 0 → exit after layer 2
        int e2 = Step(policy, _ => peaked, _ => 10);
        Assert.That(e2, Is.EqualTo(2));
        Assert.That(policy.LastFeatures[8], Is.EqualTo(p0).Within(1e-6), "first scheduled layer of a step: Δ = p");

        var s = policy.Statistics;
        Assert.That((s.Steps, s.PredictorRuns, s.Fires, s.Rejections, s.EarlyExits), Is.EqualTo((2L, 3L, 2L, 1L, 1L)));
        Assert.That(s.AverageLayers, Is.EqualTo((8 + 3) / 2.0));
        Assert.That(s.ExitLayerHistogram[2], Is.EqualTo(1));
        Assert.That(s.ExitLayerHistogram[7], Is.EqualTo(1));

        // history: prefill 7, 7, 2 → still offline only; two more exits at 2 → online {5 from 7; 0, 2, 4 from 2}
        Assert.That(policy.Schedule.ScheduledLayers(), Is.EqualTo(new[] { 2, 5 }));
        Step(policy, _ => peaked, _ => 11);
        Step(policy, _ => peaked, _ => 12);
        Assert.That(policy.Schedule.ScheduledLayers(), Is.EqualTo(new[] { 0, 2, 4, 5 }));
        // now layer 0 is scheduled and fires first
        Assert.That(Step(policy, _ => peaked, _ => 13), Is.EqualTo(0));
    }
}
