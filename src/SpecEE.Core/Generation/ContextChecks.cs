namespace SpecEE.Core.Generation;

/// <summary>
/// The request checks every backend's step-wise API makes, with one wording for all of them: a bad position, token id
/// or prompt is an <see cref="InvalidRequestException"/> (exit code 1 in the CLI), never an index error deep inside.
/// </summary>
public static class ContextChecks
{
    /// <summary>pos must be a position of a context of <paramref name="maxSeq"/> tokens.</summary>
    public static void Position(int pos, int maxSeq)
    {
        if ((uint)pos >= (uint)maxSeq)
            throw new InvalidRequestException($"position {pos} is outside the context of {maxSeq} tokens (valid: 0..{maxSeq - 1})");
    }

    /// <summary>token must be an id of a vocabulary of <paramref name="vocab"/> ids.</summary>
    public static void Token(int token, int vocab)
    {
        if ((uint)token >= (uint)vocab)
            throw new InvalidRequestException($"token id {token} is outside the vocabulary of {vocab} ids");
    }

    /// <summary>A non-empty prompt of valid ids that fits the context from <paramref name="startPos"/> on.</summary>
    public static void Prefill(ReadOnlySpan<int> tokens, int startPos, int maxSeq, int vocab)
    {
        if (tokens.IsEmpty) throw new InvalidRequestException("prefill needs at least one token");
        if (startPos < 0 || startPos + tokens.Length > maxSeq)
            throw new InvalidRequestException(
                $"prompt of {tokens.Length} tokens starting at position {startPos} does not fit the context of {maxSeq} tokens");
        foreach (int t in tokens) Token(t, vocab);
    }
}
