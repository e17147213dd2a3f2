using SpecEE.Core;
using SpecEE.Core.EarlyExit;

namespace SpecEE.Cpu;

// Teacher-forced passes over a given text: scoring (eval) and predictor training-data collection.
public sealed partial class CpuSpecEE
{
    /// <summary>
    /// Teacher-forced scoring of a token sequence (BOS first): position 0 runs densely as a prefill, every later
    /// position runs a SpecEE step with the text's token as input, and the logits it decided on — the exit
    /// layer's when it exited, as SpecEE's PC build hands them to the sampler — score the next token.
    /// With no policy this is the dense model's NLL. Exits change later KV (skipped layers), as in generation.
    /// The result holds, per scored position, the token the engine emitted, its exit layer and its NLL.
    /// </summary>
    public SpecEEScore Score(ReadOnlySpan<int> tokens)
    {
        int n = tokens.Length, L = _llama.Config.NLayers;
        if (n < 2) throw new InvalidRequestException("scoring needs at least 2 tokens");
        if (n > Math.Min(_llama.MaxSeq, _eagle.MaxSeq))
            throw new InvalidRequestException($"{n} tokens exceed the context of {Math.Min(_llama.MaxSeq, _eagle.MaxSeq)}");
        var outputs = new int[n - 1];   // [n−1] token emitted at position i (predicting tokens[i+1])
        var exits = new int[n - 1];     // [n−1] last layer run at position i
        var nlls = new double[n - 1];   // [n−1] −log p(tokens[i+1])
        Prefill(tokens[..1], forcedNext: tokens[1]);
        var first = _llama.LastLogits;
        nlls[0] = Nll(first, tokens[1]);
        outputs[0] = ExitRule.Argmax(first);
        exits[0] = L - 1;
        long layers = 0;
        for (int pos = 1; pos + 1 < n; pos++)
        {
            outputs[pos] = RunStep(tokens[pos], pos, out int exit);
            nlls[pos] = Nll(_logits, tokens[pos + 1]);
            exits[pos] = exit;
            layers += exit + 1;
            if (Policy != null) Draft(tokens[pos + 1], pos);
        }
        int decodeSteps = n - 2, correct = 0;
        for (int i = 0; i < n - 1; i++) if (outputs[i] == tokens[i + 1]) correct++;
        return new SpecEEScore(n - 1, nlls.Sum(), correct, decodeSteps, decodeSteps == 0 ? L : layers / (double)decodeSteps)
        {
            Outputs = outputs,
            ExitLayers = exits,
            Nlls = nlls,
        };
    }

    // −log softmax(logits)[target], in fp64 with the max subtracted.
    private static double Nll(ReadOnlySpan<float> logits, int target)
    {
        float max = logits[ExitRule.Argmax(logits)];
        double sum = 0;
        foreach (float v in logits) sum += Math.Exp(v - max);
        return Math.Log(sum) + max - logits[target];
    }

    /// <summary>
    /// Dense greedy run that records, per decode step, what predictor training needs (<see cref="ExitTrainingData"/>):
    /// the candidates, z and the full-vocabulary argmax of the final-normed state after every layer 0..L−2, and the
    /// output token. Costs one LM-head GEMV per layer per token. Returns the generated tokens.
    /// </summary>
    public int[] CollectTrainingData(ReadOnlySpan<int> prompt, int maxNewTokens, ExitTrainingData data, bool stopAtEos = true)
    {
        var (zAll, argmaxAll) = CheckData(data);
        int token = Prefill(prompt, draft: true);
        var output = new List<int> { token };
        for (int pos = prompt.Length; output.Count < maxNewTokens && !(stopAtEos && token == _llama.Config.EosId)
             && pos < Math.Min(_llama.MaxSeq, _eagle.MaxSeq); pos++)
        {
            int next = RecordedDenseStep(token, pos, zAll, argmaxAll);
            data.AddStep(_candidates, zAll, argmaxAll, next);
            Draft(next, pos);
            token = next;
            output.Add(token);
        }
        return output.ToArray();
    }

    /// <summary>
    /// Teacher-forced collection over a given text (BOS first), the way <see cref="Score"/> walks it: position 0 is
    /// the dense prefill, every later position i &lt; n−1 runs the dense model on the text's token with EAGLE's
    /// candidates drafted from (feature i−1, token i), and records one step whose label target is the model's own
    /// output (its final argmax), not the text's next token. EAGLE is then fed the text's next token, as in eval.
    /// Returns the number of steps recorded (n − 2).
    /// </summary>
    public int CollectForced(ReadOnlySpan<int> tokens, ExitTrainingData data)
    {
        var (zAll, argmaxAll) = CheckData(data);
        int n = tokens.Length;
        if (n < 3) return 0;
        if (n > Math.Min(_llama.MaxSeq, _eagle.MaxSeq))
            throw new InvalidRequestException($"{n} tokens exceed the context of {Math.Min(_llama.MaxSeq, _eagle.MaxSeq)}");
        Prefill(tokens[..1], forcedNext: tokens[1], draft: true);
        for (int pos = 1; pos + 1 < n; pos++)
        {
            int next = RecordedDenseStep(tokens[pos], pos, zAll, argmaxAll);
            data.AddStep(_candidates, zAll, argmaxAll, next);
            Draft(tokens[pos + 1], pos);
        }
        return n - 2;
    }

    private (float[] Z, int[] Argmax) CheckData(ExitTrainingData data)
    {
        ArgumentNullException.ThrowIfNull(data);
        int L = _llama.Config.NLayers;
        if (data.NLayers != L) throw new InvalidRequestException($"training data is for {data.NLayers} layers, the model has {L}");
        return (new float[(L - 1) * ExitFeatures.CandidateCount], new int[L - 1]);
    }

    // Dense step at pos recording z [L−1, 4] and the normed argmax [L−1] after every layer but the last; leaves the
    // final feature in _normed and returns the final argmax.
    private int RecordedDenseStep(int input, int pos, float[] zAll, int[] argmaxAll)
    {
        int L = _llama.Config.NLayers, dim = _llama.Config.Dim, C = ExitFeatures.CandidateCount;
        _llama.Embed(input);
        for (int l = 0; l < L; l++)
        {
            _llama.Layer(l, pos);
            if (l == L - 1) break;
            _llama.FinalNorm(_llama.Hidden, _normed);
            ExitFeatures.CandidateLogits(_lmHead, dim, _candidates, _normed, zAll.AsSpan(l * C, C));
            _llama.Logits(_normed, _logits);
            argmaxAll[l] = ExitRule.Argmax(_logits);
        }
        _llama.FinalNorm(_llama.Hidden, _normed);
        _llama.Logits(_normed, _logits);
        _llama.Commit(pos, L);
        return ExitRule.Argmax(_logits);
    }
}

/// <summary>Result of <see cref="CpuSpecEE.Score"/>.</summary>
/// <param name="Predicted">tokens scored (sequence length − 1)</param>
/// <param name="TotalNll">Σ −log p(next token), nats</param>
/// <param name="Correct">positions whose emitted token equals the text's next token</param>
/// <param name="DecodeSteps">positions that ran a SpecEE step (all but the prefill)</param>
/// <param name="AverageLayers">mean layers executed per decode step</param>
public sealed record SpecEEScore(int Predicted, double TotalNll, int Correct, int DecodeSteps, double AverageLayers)
{
    /// <summary>Mean NLL per scored token (nats).</summary>
    public double MeanNll => TotalNll / Predicted;
    /// <summary>Share of scored tokens the engine would have emitted itself.</summary>
    public double Accuracy => Correct / (double)Predicted;
    /// <summary>[Predicted] token the engine emitted at each scored position (position 0 = the dense prefill).</summary>
    public int[] Outputs { get; init; } = [];
    /// <summary>[Predicted] last layer run at each scored position (L−1 = no exit; position 0 always L−1).</summary>
    public int[] ExitLayers { get; init; } = [];
    /// <summary>[Predicted] −log p(next token) at each scored position, nats.</summary>
    public double[] Nlls { get; init; } = [];

    /// <summary>Value equality, the per-position arrays compared element by element.</summary>
    public bool Equals(SpecEEScore? other) =>
        other is not null && Predicted == other.Predicted && TotalNll.Equals(other.TotalNll) && Correct == other.Correct &&
        DecodeSteps == other.DecodeSteps && AverageLayers.Equals(other.AverageLayers) &&
        Outputs.AsSpan().SequenceEqual(other.Outputs) && ExitLayers.AsSpan().SequenceEqual(other.ExitLayers) &&
        Nlls.AsSpan().SequenceEqual(other.Nlls);

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(Predicted, TotalNll, Correct, DecodeSteps, AverageLayers);
}
