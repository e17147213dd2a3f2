using System.Text.Json;
using SpecEE.Core.EarlyExit;
using SpecEE.Core.Formats;
using SpecEE.Core.Model;
using SpecEE.Core.Text;
using SpecEE.Cpu;

namespace SpecEE.Tests.EarlyExit;

/// <summary>
/// EAGLE's candidate quality on the reference chunks (shared/models README: the first 40 blank-line chunks of
/// tinystories_valid_head.txt with more than 8 tokens, BOS + up to 255 tokens), against the figures computed
/// independently in PyTorch: valid_eagle_top1_hit 0.5676 and valid_eagle_top4_hit 0.828.
/// </summary>
public class EagleHitRateTests
{
    [Test]
    public void EagleTop1AndTop4HitRates_OnTheReferenceChunks_MatchTheReference()
    {
        using var json = JsonDocument.Parse(File.ReadAllBytes(TestPaths.Fixture("tinystories-16L_reference.json")));
        double top1Ref = json.RootElement.GetProperty("valid_eagle_top1_hit").GetDouble();
        double top4Ref = json.RootElement.GetProperty("valid_eagle_top4_hit").GetDouble();

        var model = ModelLoader.Load(TestPaths.DefaultModelDir);
        var eagleWeights = EagleWeights.LoadDirectory(TestPaths.DefaultModelDir);
        var tok = TextTokenizer.Load(Path.Combine(TestPaths.DefaultModelDir, "tokenizer.model"));
        var chunks = TextCorpus.BlankLineChunks(File.ReadAllText(TestPaths.Fixture("tinystories_valid_head.txt")))
            .Select(c => tok.Encode(c, addBos: false)).Where(ids => ids.Length > 8).Take(40)
            .Select(ids => (int[])[model.Config.BosId, .. ids.Take(255)]).ToArray();
        Assert.That(chunks, Has.Length.EqualTo(40));

        // Dense forward position by position; EAGLE on (feature of i−1, token i) at i−1 proposes the token after
        // token i, to compare with the base model's greedy output at position i (positions 1..n−1).
        long positions = 0, hit1 = 0, hit4 = 0;
        var top = new int[4];
        var feature = new float[model.Config.Dim];
        using var llama = new CpuLlama(model, maxSeq: 256, threads: 1);
        var eagle = new EagleHead(eagleWeights, model, 256);
        foreach (int[] seq in chunks)
        {
            llama.Reset();
            eagle.Reset();
            for (int i = 0; i < seq.Length; i++)
            {
                var logits = llama.Forward(seq[i], i);
                int greedy = ExitRule.Argmax(logits);
                if (i > 0)
                {
                    eagle.Propose(seq[i], feature, i - 1, top);
                    positions++;
                    if (top[0] == greedy) hit1++;
                    if (top.Contains(greedy)) hit4++;
                }
                llama.LastNormedHidden.CopyTo(feature);
            }
        }
        double top1 = hit1 / (double)positions, top4 = hit4 / (double)positions;
        TestContext.Out.WriteLine($"{positions} positions: top-1 {top1:F4} (ref {top1Ref}), top-4 {top4:F4} (ref {top4Ref})");
        Assert.That(top4, Is.EqualTo(top4Ref).Within(0.01));
        Assert.That(top1, Is.EqualTo(top1Ref).Within(0.01));
    }
}
