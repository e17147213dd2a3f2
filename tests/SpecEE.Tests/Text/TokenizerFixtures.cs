using SpecEE.Core.Formats;
using SpecEE.Core.Text;

namespace SpecEE.Tests.Text;

/// <summary>Tokenizers and fixture texts shared by the tokenizer tests, loaded once per test run.</summary>
internal static class TokenizerFixtures
{
    private static readonly Lazy<TextTokenizer> Llama2Lazy = new(() => TextTokenizer.FromSentencePieceModel(TestPaths.Fixture("tokenizer.model")));
    private static readonly Lazy<TextTokenizer> Tok512Lazy = new(() => TextTokenizer.FromSentencePieceModel(TestPaths.Fixture("tok512.model")));
    private static readonly Lazy<TextTokenizer> Llama2GgufLazy = new(() => TextTokenizer.FromGguf(GgufFile.Open(TestPaths.Fixture("ggml-vocab-llama-spm.gguf"))));
    private static readonly Lazy<TextTokenizer> Tiny16LGgufLazy = new(() => TextTokenizer.FromGguf(GgufFile.Open(TestPaths.Fixture("tinystories-16L-f16.gguf"))));
    private static readonly Lazy<VocabCase[]> CasesLazy = new(LoadVocabCases);

    /// <summary>Llama-2's 32000-piece tokenizer.model.</summary>
    public static TextTokenizer Llama2 => Llama2Lazy.Value;

    /// <summary>stories260K / tinystories-16L 512-piece tok512.model.</summary>
    public static TextTokenizer Tok512 => Tok512Lazy.Value;

    /// <summary>Llama-2's vocabulary as embedded in llama.cpp's ggml-vocab-llama-spm.gguf.</summary>
    public static TextTokenizer Llama2Gguf => Llama2GgufLazy.Value;

    /// <summary>tok512 as embedded by llama.cpp's convert_hf_to_gguf.py in tinystories-16L-f16.gguf.</summary>
    public static TextTokenizer Tiny16LGguf => Tiny16LGgufLazy.Value;

    /// <summary>llama.cpp's ggml-vocab-llama-spm.gguf.inp/.out: texts and their expected ids (no BOS).</summary>
    public static VocabCase[] VocabCases => CasesLazy.Value;

    /// <summary>Number of cases in the .inp file (the TestCaseSource needs it before the fixtures are read).</summary>
    public const int VocabCaseCount = 47;

    public static IEnumerable<TestCaseData> VocabCaseIndices() =>
        Enumerable.Range(0, VocabCaseCount).Select(i => new TestCaseData(i).SetArgDisplayNames($"case{i:00}"));

    /// <summary>The blank-line chunks of tinystories_valid_head.txt (stories and paragraphs), empty ones skipped.</summary>
    public static string[] ValidHeadChunks() =>
        File.ReadAllText(TestPaths.Fixture("tinystories_valid_head.txt")).Split("\n\n").Where(c => c.Length > 0).ToArray();

    private static VocabCase[] LoadVocabCases()
    {
        // Both files are UTF-8 with LF line ends; .inp separates cases by a marker line, .out has one id line per case.
        string[] texts = File.ReadAllText(TestPaths.Fixture("ggml-vocab-llama-spm.gguf.inp")).Split("\n__ggml_vocab_test__\n");
        string[] lines = File.ReadAllText(TestPaths.Fixture("ggml-vocab-llama-spm.gguf.out")).Split('\n');
        Assert.That(lines, Has.Length.EqualTo(texts.Length), ".inp and .out must hold the same number of cases");
        return texts.Select((t, i) => new VocabCase(i, t,
            lines[i].Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(int.Parse).ToArray())).ToArray();
    }
}

/// <summary>One llama.cpp tokenizer test case.</summary>
internal sealed record VocabCase(int Index, string Text, int[] ExpectedIds);
