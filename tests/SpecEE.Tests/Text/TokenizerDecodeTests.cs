using System.Text.Json;
using SpecEE.Core;
using SpecEE.Core.Text;

namespace SpecEE.Tests.Text;

/// <summary>
/// Encoding and decoding against independent references: the fixtures' reference JSON (computed with Python
/// sentencepiece / llama2.c semantics), llama.cpp's expected ids, the source text itself, and hand-worked cases.
/// </summary>
public class TokenizerDecodeTests
{
    [TestCase("stories260K_reference.json", "prompt")]
    [TestCase("tinystories-16L_reference.json", "prompt_text")]
    public void Tok512_PromptWithBos_MatchesReferenceIds(string referenceFile, string promptKey)
    {
        using var json = JsonDocument.Parse(File.ReadAllText(TestPaths.Fixture(referenceFile)));
        string prompt = json.RootElement.GetProperty(promptKey).GetString()!;
        int[] expected = Ints(json.RootElement.GetProperty("prompt_ids_with_bos"));
        Assert.That(prompt, Is.EqualTo("Once upon a time, there was a little girl named Lily."));
        Assert.That(TokenizerFixtures.Tok512.Encode(prompt, addBos: true), Is.EqualTo(expected));
    }

    [Test]
    public void Tok512_DecodesStories260KGreedyIds_ToReferenceText()
    {
        using var json = JsonDocument.Parse(File.ReadAllText(TestPaths.Fixture("stories260K_reference.json")));
        int[] ids = Ints(json.RootElement.GetProperty("greedy_from_bos_ids"));
        string expected = json.RootElement.GetProperty("greedy_from_bos_text").GetString()!;
        Assert.That(ids[0], Is.EqualTo(TokenizerFixtures.Tok512.BosId));
        Assert.That(TokenizerFixtures.Tok512.Decode(ids), Is.EqualTo(expected));
    }

    [Test]
    public void Tok512_StreamsGreedyContinuationAfterPrompt_ToReferenceText()
    {
        using var json = JsonDocument.Parse(File.ReadAllText(TestPaths.Fixture("tinystories-16L_reference.json")));
        string prompt = json.RootElement.GetProperty("prompt_text").GetString()!;
        int[] promptIds = Ints(json.RootElement.GetProperty("prompt_ids_with_bos"));
        int[] greedy = Ints(json.RootElement.GetProperty("greedy_128_ids"));
        string expected = json.RootElement.GetProperty("greedy_128_text").GetString()!;
        var tok = TokenizerFixtures.Tok512;

        Assert.That(tok.Decode(promptIds.Concat(greedy)), Is.EqualTo(expected));
        // The REPL prints the prompt, then streams the continuation: its first piece keeps its leading space.
        var stream = tok.CreateStreamDecoder(atTextStart: false);
        string streamed = string.Concat(greedy.Select(stream.Append)) + stream.Flush();
        Assert.That(prompt + streamed, Is.EqualTo(expected));
    }

    [Test]
    public void Llama2_DecodesLlamaCppExpectedIds_BackToEachCaseText()
    {
        // The .out ids come from SentencePiece itself; tokenizer.model keeps whitespace as is, so decoding gives the text back.
        foreach (var c in TokenizerFixtures.VocabCases)
            Assert.That(TokenizerFixtures.Llama2.Decode(c.ExpectedIds), Is.EqualTo(c.Text), $"case {c.Index}");
    }

    [Test]
    public void Llama2_StreamDecode_EqualsBatchDecode_OnLlamaCppCases()
    {
        foreach (var c in TokenizerFixtures.VocabCases)
            Assert.That(StreamDecode(TokenizerFixtures.Llama2, c.ExpectedIds), Is.EqualTo(TokenizerFixtures.Llama2.Decode(c.ExpectedIds)), $"case {c.Index}");
    }

    [Test]
    public void Llama2_RoundTripsValidHeadChunks_Exactly()
    {
        var tok = TokenizerFixtures.Llama2;
        int byteTokens = 0;
        foreach (string chunk in TokenizerFixtures.ValidHeadChunks())
        {
            int[] ids = tok.Encode(chunk, addBos: true);
            byteTokens += ids.Count(id => id is >= 3 and <= 258);
            Assert.That(tok.Decode(ids), Is.EqualTo(chunk));
            Assert.That(StreamDecode(tok, ids), Is.EqualTo(chunk));
        }
        Assert.That(byteTokens, Is.GreaterThan(0), "the text should exercise byte fallback (it holds characters outside the vocabulary)");
    }

    [Test]
    public void Tok512_RoundTripsValidHeadChunks_WithExtraSpacesRemoved()
    {
        // tok512.model sets remove_extra_whitespaces: leading/trailing spaces go and runs of spaces become one.
        var tok = TokenizerFixtures.Tok512;
        Assert.That(tok.RemovesExtraWhitespace, Is.True);
        int byteTokens = 0, changed = 0;
        foreach (string chunk in TokenizerFixtures.ValidHeadChunks())
        {
            int[] ids = tok.Encode(chunk, addBos: true);
            byteTokens += ids.Count(id => id is >= 3 and <= 258);
            string expected = RemoveExtraSpaces(chunk);
            if (expected != chunk) changed++;
            Assert.That(tok.Decode(ids), Is.EqualTo(expected));
            Assert.That(StreamDecode(tok, ids), Is.EqualTo(expected));
        }
        Assert.That(byteTokens, Is.GreaterThan(0), "non-ASCII characters of the text are byte-fallback pieces in tok512");
        Assert.That(changed, Is.GreaterThan(0), "some chunks have trailing or double spaces");
    }

    [Test]
    public void Llama2_KeepsExtraSpaces()
    {
        var tok = TokenizerFixtures.Llama2;
        Assert.That(tok.RemovesExtraWhitespace, Is.False);
        Assert.That(tok.Decode(tok.Encode("  two  spaces  ", addBos: false)), Is.EqualTo("  two  spaces  "));
    }

    [Test]
    public void StreamDecoder_HoldsBackSplitCharacter_UntilItsLastByte()
    {
        // 🦙 is U+1F999 = F0 9F A6 99; Llama-2 has no piece for it, so it is four byte pieces <0xF0>.. (id = 3 + byte).
        var tok = TokenizerFixtures.Llama2;
        int[] ids = tok.Encode("🦙", addBos: false);
        Assert.That(ids, Is.EqualTo(new[] { 29871, 3 + 0xF0, 3 + 0x9F, 3 + 0xA6, 3 + 0x99 }));
        var stream = tok.CreateStreamDecoder();
        Assert.That(ids.Select(stream.Append).ToArray(), Is.EqualTo(new[] { "", "", "", "", "🦙" }));
        Assert.That(stream.Flush(), Is.EqualTo(""));
    }

    [Test]
    public void IncompleteOrInvalidBytes_DecodeToReplacementCharacter_InBatchAndStream()
    {
        var tok = TokenizerFixtures.Llama2;
        int[] cutEmoji = [3 + 0xF0, 3 + 0x9F];                    // the first half of a 4-byte sequence, then the end
        int[] strayContinuation = [3 + 0x41, 3 + 0x99, 3 + 0x42]; // "A", a lone continuation byte, "B"
        Assert.That(tok.Decode(cutEmoji), Is.EqualTo("\uFFFD"));
        Assert.That(StreamDecode(tok, cutEmoji), Is.EqualTo("\uFFFD"));
        Assert.That(tok.Decode(strayContinuation), Is.EqualTo("A\uFFFDB"));
        Assert.That(StreamDecode(tok, strayContinuation), Is.EqualTo("A\uFFFDB"));
    }

    [Test]
    public void Decode_DropsControlPieces_AndOnlyTheDummyPrefixSpace()
    {
        var tok = TokenizerFixtures.Llama2;
        int hello = 15043, world = 3186, space = 29871, twoSpaces = 259; // ▁Hello, ▁world, ▁, ▁▁ (see the .out file)
        Assert.That(tok.PieceOf(hello), Is.EqualTo("▁Hello"));
        Assert.That(tok.Decode([tok.BosId, hello, world, tok.EosId]), Is.EqualTo("Hello world"));
        Assert.That(tok.Decode([space, hello]), Is.EqualTo(" Hello"));
        Assert.That(tok.Decode([twoSpaces, hello]), Is.EqualTo("  Hello"));
        Assert.That(tok.Decode([tok.UnkId]), Is.EqualTo(" \u2047 "));
        Assert.That(tok.Decode([]), Is.EqualTo(""));
    }

    [Test]
    public void Decode_TextStartingWithBytePieces_KeepsTheSpaceOfTheNextPiece()
    {
        // SentencePiece drops only a dummy-prefix space at the very start; after "\n" (byte piece <0x0A> = id 13) the
        // space of ▁Hello is real. (Microsoft.ML.Tokenizers' own Decode gives "\nHello" here, and drops <unk>:
        // the reasons this adapter decodes from the piece table itself.)
        var tok = TokenizerFixtures.Llama2;
        Assert.That(tok.Decode([13, 15043]), Is.EqualTo("\n Hello"));
        Assert.That(tok.Decode([tok.BosId, 13, 15043]), Is.EqualTo("\n Hello"));
        Assert.That(tok.Decode([tok.UnkId, 15043]), Is.EqualTo(" \u2047  Hello"));
        Assert.That(tok.Decode(tok.Encode("\n Hello", addBos: true)), Is.EqualTo("\n Hello"));
    }

    [Test]
    public void Encode_EmptyText_GivesBosOnlyWhenAsked()
    {
        Assert.That(TokenizerFixtures.Tok512.Encode("", addBos: true), Is.EqualTo(new[] { 1 }));
        Assert.That(TokenizerFixtures.Tok512.Encode("", addBos: false), Is.Empty);
    }

    [Test]
    public void SpecialIdsAndVocabSize_ComeFromTheModel()
    {
        Assert.That((TokenizerFixtures.Tok512.BosId, TokenizerFixtures.Tok512.EosId, TokenizerFixtures.Tok512.UnkId, TokenizerFixtures.Tok512.VocabSize),
            Is.EqualTo((1, 2, 0, 512)));
        Assert.That(TokenizerFixtures.Llama2.VocabSize, Is.EqualTo(32000));
    }

    [Test]
    public void Decode_IdOutsideVocabulary_Throws()
    {
        var ex = Assert.Throws<InvalidRequestException>(() => TokenizerFixtures.Tok512.Decode([1, 512]));
        Assert.That(ex!.Message, Does.Contain("512").And.Contain("0..511"));
        Assert.Throws<InvalidRequestException>(() => TokenizerFixtures.Tok512.CreateStreamDecoder().Append(-1));
    }

    internal static string StreamDecode(TextTokenizer tok, IEnumerable<int> ids)
    {
        var stream = tok.CreateStreamDecoder();
        return string.Concat(ids.Select(stream.Append)) + stream.Flush();
    }

    /// <summary>SentencePiece's remove_extra_whitespaces on identity-normalised text: trim spaces, collapse runs of spaces.</summary>
    private static string RemoveExtraSpaces(string s)
    {
        var sb = new System.Text.StringBuilder();
        foreach (char c in s.Trim(' '))
            if (c != ' ' || sb.Length == 0 || sb[^1] != ' ') sb.Append(c);
        return sb.ToString();
    }

    private static int[] Ints(JsonElement array) => array.EnumerateArray().Select(e => e.GetInt32()).ToArray();
}
