using System.Buffers.Binary;
using System.Text.Json.Nodes;
using SpecEE.Core;
using SpecEE.Core.Formats;

namespace SpecEE.Tests.Formats;

/// <summary>
/// Corrupted copies of tinystories-16L (model.safetensors and config.json) through <see cref="ModelLoader.Load"/>:
/// each must fail with exactly <see cref="ModelFormatException"/>, naming the file at fault and what is wrong.
/// </summary>
public class HfBadInputTests
{
    private const int HeaderJsonBytes = 15_736; // u64 at the start of the fixture's model.safetensors
    private readonly FormatTestFiles _files = new();

    [TearDown]
    public void TearDown() => _files.Cleanup();

    private static string Weights(string dir) => Path.Combine(dir, "model.safetensors");
    private static string Config(string dir) => Path.Combine(dir, "config.json");

    /// <summary>Loads <paramref name="dir"/>; asserts the exception type and that the message starts with <paramref name="file"/>.</summary>
    private static string LoadFails(string dir, string file)
    {
        var e = Assert.Throws<ModelFormatException>(() => ModelLoader.Load(dir))!;
        Assert.That(e.Message, Does.StartWith(file), "the message must name the file at fault first");
        return e.Message;
    }

    private string WithWeightBytes(Func<byte[], byte[]> edit)
    {
        string dir = _files.CopyHfModel();
        File.WriteAllBytes(Weights(dir), edit(File.ReadAllBytes(Weights(dir))));
        return dir;
    }

    // ── model.safetensors: truncation and byte corruption ─────────────────────────────────────────────────

    [TestCase(3, "not a safetensors file (only 3 bytes)")]                          // inside the u64 length
    [TestCase(8 + 100, "header length 15736 does not fit in a file of 108 bytes")] // mid-header JSON
    [TestCase(8 + HeaderJsonBytes, "lie outside the 0 data bytes")]               // header, no data
    [TestCase(8 + HeaderJsonBytes + 6_000_000, "(truncated file?)")]              // mid-data
    [TestCase(-1, "(truncated file?)")]                                             // last byte missing
    public void Safetensors_Truncated(int keep, string expected)
    {
        string dir = WithWeightBytes(b => b[..(keep < 0 ? b.Length + keep : keep)]);
        Assert.That(LoadFails(dir, Weights(dir)), Does.Contain(expected));
    }

    [Test]
    public void Safetensors_Empty()
    {
        string dir = WithWeightBytes(_ => []);
        Assert.That(LoadFails(dir, Weights(dir)), Does.Contain("not a safetensors file (only 0 bytes)"));
    }

    [Test]
    public void Safetensors_EmptyFileGivenDirectly()
    {
        string dir = WithWeightBytes(_ => []);
        var e = Assert.Throws<ModelFormatException>(() => ModelLoader.Load(Weights(dir)))!;
        Assert.That(e.Message, Does.StartWith(Weights(dir)).And.Contain("empty file (0 bytes)"));
    }

    [TestCase(ulong.MaxValue, "header length 18446744073709551615 does not fit")]
    [TestCase(1UL << 40, "does not fit")]
    [TestCase(0UL, "header length 0 does not fit")]
    [TestCase(100UL, "not valid JSON")] // the JSON is cut off inside a string
    public void Safetensors_HeaderLengthCorrupted(ulong length, string expected)
    {
        string dir = WithWeightBytes(b =>
        {
            BinaryPrimitives.WriteUInt64LittleEndian(b, length);
            return b;
        });
        Assert.That(LoadFails(dir, Weights(dir)), Does.Contain(expected));
    }

    [TestCase(8, (byte)'[', "not valid JSON")]   // opening brace becomes a bracket: the array never closes
    [TestCase(8, (byte)'x', "not valid JSON")]
    [TestCase(9, (byte)'}', "not valid JSON")]   // first key's quote becomes a brace
    [TestCase(40, (byte)0xFF, "not valid JSON")] // invalid UTF-8 inside the header
    public void Safetensors_HeaderByteFlipped(int offset, byte value, string expected)
    {
        string dir = WithWeightBytes(b =>
        {
            b[offset] = value;
            return b;
        });
        Assert.That(LoadFails(dir, Weights(dir)), Does.Contain(expected));
    }

    [Test]
    public void Safetensors_HeaderIsNotAnObject()
    {
        string dir = WithWeightBytes(b => [.. new byte[] { 2, 0, 0, 0, 0, 0, 0, 0, (byte)'[', (byte)']' }]);
        Assert.That(LoadFails(dir, Weights(dir)), Does.Contain("header is not a JSON object"));
    }

    [Test]
    public void Safetensors_NaNInAWeight_NamesTheTensor()
    {
        const string tensor = "model.layers.3.self_attn.q_proj.weight";
        string dir = WithWeightBytes(b =>
        {
            BinaryPrimitives.WriteSingleLittleEndian(b.AsSpan(FormatTestFiles.Safetensors.F32Offset(b, tensor, 4321)), float.NaN);
            return b;
        });
        Assert.That(LoadFails(dir, Weights(dir)), Does.Contain($"tensor '{tensor}' holds a non-finite value (NaN) at element 4321"));
    }

    [Test]
    public void Safetensors_InfinityInLmHead_NamesTheTensor()
    {
        string dir = WithWeightBytes(b =>
        {
            BinaryPrimitives.WriteSingleLittleEndian(b.AsSpan(FormatTestFiles.Safetensors.F32Offset(b, "lm_head.weight", 0)), float.NegativeInfinity);
            return b;
        });
        Assert.That(LoadFails(dir, Weights(dir)), Does.Contain("tensor 'lm_head.weight' holds a non-finite value (-∞) at element 0")
            .Or.Contain("tensor 'lm_head.weight' holds a non-finite value (-Infinity) at element 0"));
    }

    // ── model.safetensors: header entries ─────────────────────────────────────────────────────────────────

    [Test]
    public void Safetensors_TensorMissing()
    {
        string dir = _files.CopyHfModelWithHeader(h => h.Remove("model.layers.7.mlp.up_proj.weight"));
        Assert.That(LoadFails(dir, Weights(dir)),
            Does.Contain("tensor 'model.layers.7.mlp.up_proj.weight' is missing").And.Contain(Config(dir)));
    }

    [Test]
    public void Safetensors_LmHeadMissingWhileUntied()
    {
        string dir = _files.CopyHfModelWithHeader(h => h.Remove("lm_head.weight"));
        Assert.That(LoadFails(dir, Weights(dir)), Does.Contain("'lm_head.weight' is missing").And.Contain("tie_word_embeddings"));
    }

    [TestCase("F64", "unsupported dtype F64 (expected F32, F16 or BF16)")]
    [TestCase("I32", "unsupported dtype I32")]
    [TestCase("F16", "F16[128, 128] needs 32768 bytes but has 65536")]
    public void Safetensors_WrongDType(string dtype, string expected)
    {
        string dir = _files.CopyHfModelWithHeader(h => h["model.layers.3.self_attn.o_proj.weight"]!["dtype"] = dtype);
        Assert.That(LoadFails(dir, Weights(dir)),
            Does.Contain("tensor 'model.layers.3.self_attn.o_proj.weight'").And.Contain(expected));
    }

    [Test]
    public void Safetensors_ShapeTransposed_ComparedAgainstConfig()
    {
        // Same element count, so only the shape check against config.json can catch it.
        string dir = _files.CopyHfModelWithHeader(h => h["model.layers.9.mlp.up_proj.weight"]!["shape"] = new JsonArray(128, 384));
        Assert.That(LoadFails(dir, Weights(dir)), Does.Contain("tensor 'model.layers.9.mlp.up_proj.weight' has shape [128, 384]")
            .And.Contain($"{Config(dir)} implies [384, 128] (intermediate_size × hidden_size"));
    }

    [Test]
    public void Safetensors_AbsurdShape_DoesNotOverflow()
    {
        // 2^32 · 2^32 · 4 wraps to 0 in 64-bit arithmetic; the bound must catch it before it looks plausible.
        string dir = _files.CopyHfModelWithHeader(h =>
        {
            h["model.norm.weight"]!["shape"] = new JsonArray(1L << 32, 1L << 32);
            h["model.norm.weight"]!["data_offsets"] = new JsonArray(0, 0);
        });
        Assert.That(LoadFails(dir, Weights(dir)), Does.Contain("'model.norm.weight' F32[4294967296, 4294967296] holds more elements"));
    }

    [TestCase(-4, 0, "data_offsets [-4, 0] lie outside")]
    [TestCase(512, 0, "data_offsets [512, 0] lie outside")]
    public void Safetensors_DataOffsetsCorrupted(long begin, long end, string expected)
    {
        string dir = _files.CopyHfModelWithHeader(h => h["model.norm.weight"]!["data_offsets"] = new JsonArray(begin, end));
        Assert.That(LoadFails(dir, Weights(dir)), Does.Contain(expected));
    }

    [TestCase("dtype", "malformed safetensors header")]
    [TestCase("shape", "malformed safetensors header")]
    [TestCase("data_offsets", "malformed safetensors header")]
    public void Safetensors_EntryFieldMissing(string field, string expected)
    {
        string dir = _files.CopyHfModelWithHeader(h => h["model.norm.weight"]!.AsObject().Remove(field));
        Assert.That(LoadFails(dir, Weights(dir)), Does.Contain(expected));
    }

    [Test]
    public void Safetensors_EntryFieldOfWrongType()
    {
        string dir = _files.CopyHfModelWithHeader(h => h["model.norm.weight"]!["shape"] = "128");
        Assert.That(LoadFails(dir, Weights(dir)), Does.Contain("malformed safetensors header"));
    }

    [Test]
    public void Safetensors_DuplicateTensorName()
    {
        // JSON allows repeated keys; a second entry for the same tensor would silently shadow the first.
        string dir = WithWeightBytes(b =>
        {
            int n = (int)BinaryPrimitives.ReadUInt64LittleEndian(b);
            string json = System.Text.Encoding.UTF8.GetString(b, 8, n).Replace("\"lm_head.weight\"", "\"model.embed_tokens.weight\"");
            byte[] header = System.Text.Encoding.UTF8.GetBytes(json);
            Assert.That(header, Has.Length.EqualTo(n + "model.embed_tokens.weight".Length - "lm_head.weight".Length));
            byte[] file = new byte[8 + header.Length + b.Length - 8 - n];
            BinaryPrimitives.WriteUInt64LittleEndian(file, (ulong)header.Length);
            header.CopyTo(file, 8);
            b.AsSpan(8 + n).CopyTo(file.AsSpan(8 + header.Length));
            return file;
        });
        Assert.That(LoadFails(dir, Weights(dir)), Does.Contain("lists tensor 'model.embed_tokens.weight' twice"));
    }

    [Test]
    public void Safetensors_HeaderLongerThanTheFormatAllows()
    {
        // A 100 MB + 1 header must be refused before it is allocated (the file itself is sparse, so this stays cheap).
        string dir = _files.CopyHfModel();
        using (var f = new FileStream(Weights(dir), FileMode.Create))
        {
            Span<byte> len = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(len, 100_000_001);
            f.Write(len);
            f.SetLength(8 + 100_000_001 + 16);
        }
        Assert.That(LoadFails(dir, Weights(dir)), Does.Contain("exceeds the format's limit of 100000000 bytes"));
    }

    [Test]
    public void Safetensors_ExtraLayerBeyondConfig()
    {
        string dir = _files.CopyHfModelWithConfig(c => c["num_hidden_layers"] = 15);
        Assert.That(LoadFails(dir, Weights(dir)),
            Does.Contain("of layer 15").And.Contain($"{Config(dir)} sets num_hidden_layers to 15"));
    }

    [Test]
    public void Safetensors_BiasTensor_IsRejected()
    {
        string dir = _files.CopyHfModelWithHeader(h =>
            h["model.layers.0.self_attn.q_proj.bias"] = new JsonObject
            {
                ["dtype"] = "F32", ["shape"] = new JsonArray(128), ["data_offsets"] = new JsonArray(0, 512),
            });
        Assert.That(LoadFails(dir, Weights(dir)), Does.Contain("'model.layers.0.self_attn.q_proj.bias' is a bias"));
    }

    // ── config.json ───────────────────────────────────────────────────────────────────────────────────────

    [TestCase("num_hidden_layers", 17, "tensor 'model.layers.16.self_attn.q_proj.weight' is missing")]
    [TestCase("hidden_size", 96, "tensor 'model.embed_tokens.weight' has shape [512, 128]")]
    [TestCase("intermediate_size", 383, "tensor 'model.layers.0.mlp.gate_proj.weight' has shape [384, 128]")]
    [TestCase("vocab_size", 500, "implies [500, 128]")]
    [TestCase("num_attention_heads", 8, "tensor 'model.layers.0.self_attn.k_proj.weight' has shape [64, 128]")]
    [TestCase("num_key_value_heads", 4, "implies [128, 128] (num_key_value_heads·head_dim × hidden_size")]
    public void Config_DisagreesWithTensors_NamesTensorAndConfig(string key, int value, string expected)
    {
        string dir = _files.CopyHfModelWithConfig(c => c[key] = value);
        Assert.That(LoadFails(dir, Weights(dir)), Does.Contain(expected).And.Contain(Config(dir)));
    }

    [Test]
    public void Config_WithoutNumKeyValueHeads_DefaultsToHeadsAndThenDisagrees()
    {
        string dir = _files.CopyHfModelWithConfig(c => c.Remove("num_key_value_heads"));
        Assert.That(LoadFails(dir, Weights(dir)), Does.Contain("'model.layers.0.self_attn.k_proj.weight' has shape [64, 128]")
            .And.Contain("implies [128, 128]"));
    }

    [TestCase("num_key_value_heads", "3", "key 'num_key_value_heads' (3) must divide num_attention_heads (4)")]
    [TestCase("hidden_size", "130", "key 'hidden_size' (130) must be a multiple of num_attention_heads (4)")]
    [TestCase("hidden_size", "null", "key 'hidden_size' is missing")]
    [TestCase("hidden_size", "\"128\"", "key 'hidden_size' must be an integer, got \"128\" (string)")]
    [TestCase("hidden_size", "128.5", "key 'hidden_size' must be an integer, got 128.5 (number)")]
    [TestCase("hidden_size", "-128", "key 'hidden_size' must be positive, got -128")]
    [TestCase("num_hidden_layers", "0", "key 'num_hidden_layers' must be positive, got 0")]
    [TestCase("vocab_size", "99999999999", "key 'vocab_size' is implausibly large")]
    [TestCase("intermediate_size", "1000000000", "implausibly large")]
    [TestCase("rms_norm_eps", "-1e-5", "key 'rms_norm_eps' must be a positive finite number")]
    [TestCase("rms_norm_eps", "1e-300", "key 'rms_norm_eps' must be a positive finite number")] // 0 in fp32
    [TestCase("rope_theta", "\"10000\"", "key 'rope_theta' must be a number")]
    [TestCase("tie_word_embeddings", "\"no\"", "key 'tie_word_embeddings' must be true or false")]
    [TestCase("eos_token_id", "512", "key 'eos_token_id' (512) is outside the vocabulary [0, 512)")]
    [TestCase("bos_token_id", "[]", "key 'bos_token_id' must be an integer token id")]
    [TestCase("model_type", "\"gpt2\"", "key 'model_type' is \"gpt2\"")]
    [TestCase("hidden_act", "\"gelu\"", "key 'hidden_act' is \"gelu\"")]
    [TestCase("rope_scaling", "{\"type\": \"linear\", \"factor\": 2.0}", "key 'rope_scaling' asks for RoPE type \"linear\"")]
    [TestCase("rope_scaling", "{\"factor\": 2.0}", "key 'rope_scaling' is set without a rope_type")]
    [TestCase("rope_scaling", "8", "key 'rope_scaling' must be an object, got 8 (number)")]
    [TestCase("rope_parameters", "{\"rope_type\": \"llama3\", \"rope_theta\": 500000.0}", "key 'rope_parameters' asks for RoPE type \"llama3\"")]
    [TestCase("rope_parameters", "{\"rope_type\": \"default\", \"rope_theta\": 0}", "key 'rope_parameters.rope_theta' must be a positive finite number")]
    [TestCase("attention_bias", "true", "key 'attention_bias' is true")]
    [TestCase("head_dim", "64", "key 'head_dim' (64) differs from hidden_size / num_attention_heads (32)")]
    public void Config_BadValue_NamesConfigAndKey(string key, string json, string expected)
    {
        string dir = _files.CopyHfModelWithConfig(c => c[key] = JsonNode.Parse(json));
        Assert.That(LoadFails(dir, Config(dir)), Does.Contain(expected));
    }

    [TestCase("hidden_size"), TestCase("intermediate_size"), TestCase("num_hidden_layers"), TestCase("num_attention_heads"), TestCase("vocab_size")]
    public void Config_RequiredKeyMissing(string key)
    {
        string dir = _files.CopyHfModelWithConfig(c => c.Remove(key));
        Assert.That(LoadFails(dir, Config(dir)), Is.EqualTo($"{Config(dir)}: key '{key}' is missing"));
    }

    [TestCase(0, "not valid JSON")]
    [TestCase(100, "not valid JSON")]
    public void Config_Truncated(int keep, string expected)
    {
        string dir = _files.CopyHfModel();
        File.WriteAllBytes(Config(dir), File.ReadAllBytes(Config(dir))[..keep]);
        Assert.That(LoadFails(dir, Config(dir)), Does.Contain(expected));
    }

    [Test]
    public void Config_TopLevelArray()
    {
        string dir = _files.CopyHfModel();
        File.WriteAllText(Config(dir), "[1, 2, 3]");
        Assert.That(LoadFails(dir, Config(dir)), Does.Contain("expected a JSON object at the top level"));
    }

    // ── paths ─────────────────────────────────────────────────────────────────────────────────────────────

    [Test]
    public void Directory_WithoutConfigJson()
    {
        string dir = _files.CopyHfModel();
        File.Delete(Config(dir));
        Assert.That(LoadFails(dir, dir), Does.Contain("directory has no config.json").And.Contain("GGUF"));
    }

    [Test]
    public void Directory_WithoutModelSafetensors()
    {
        string dir = _files.CopyHfModel();
        File.Move(Weights(dir), Path.Combine(dir, "other.safetensors"));
        Assert.That(LoadFails(dir, dir), Does.Contain("neither model.safetensors nor model.safetensors.index.json (found other.safetensors"));
    }

    [Test]
    public void SafetensorsFile_WithoutConfigBeside()
    {
        string dir = _files.CopyHfModel();
        File.Delete(Config(dir));
        var e = Assert.Throws<ModelFormatException>(() => ModelLoader.Load(Weights(dir)))!;
        Assert.That(e.Message, Does.StartWith(Weights(dir)).And.Contain($"{Config(dir)} does not exist"));
    }
}
