namespace SpecEE.Core.EarlyExit;

/// <summary>
/// Token sequences from a plain-text corpus for predictor training and forced-decoding evaluation: the text's
/// blank-line chunks (TinyStories separates stories and paragraphs with blank lines), each encoded with BOS first,
/// as tinystories-16L was trained and as its reference figures are computed.
/// </summary>
public static class TextCorpus
{
    /// <summary>The blank-line separated chunks of <paramref name="text"/>, trimmed, empty ones dropped (LF or CRLF).</summary>
    public static IEnumerable<string> BlankLineChunks(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var current = new System.Text.StringBuilder();
        foreach (string raw in text.Split('\n'))
        {
            string line = raw.TrimEnd('\r');
            if (line.Trim().Length == 0)
            {
                if (current.Length > 0) yield return current.ToString();
                current.Clear();
                continue;
            }
            if (current.Length > 0) current.Append('\n');
            current.Append(line);
        }
        if (current.Length > 0) yield return current.ToString().Trim();
    }

    /// <summary>
    /// Encodes chunks in order (<paramref name="encodeWithBos"/> must put BOS first) until <paramref name="maxScored"/>
    /// positions are scored (a sequence of n tokens scores n − 1: each token predicts the next). Each sequence is cut
    /// to <paramref name="maxSeq"/> tokens, the last one to what the budget leaves; sequences shorter than
    /// <paramref name="minTokens"/> are skipped.
    /// </summary>
    public static List<int[]> Sequences(string text, Func<string, int[]> encodeWithBos, int maxScored, int maxSeq, int minTokens = 3)
    {
        if (maxScored < 1) throw new InvalidRequestException($"the token budget must be ≥ 1, got {maxScored}");
        if (maxSeq < 2) throw new InvalidRequestException($"the context must hold at least 2 tokens, got {maxSeq}");
        var result = new List<int[]>();
        long scored = 0;
        foreach (string chunk in BlankLineChunks(text))
        {
            if (scored >= maxScored) break;
            int[] ids = encodeWithBos(chunk);
            int n = (int)Math.Min(Math.Min(ids.Length, maxSeq), maxScored - scored + 1);
            if (n < Math.Max(2, minTokens)) continue;
            result.Add(ids[..n]);
            scored += n - 1;
        }
        if (result.Count == 0) throw new InvalidRequestException($"the text has no chunk of at least {Math.Max(2, minTokens)} tokens");
        return result;
    }
}
