using SpecEE.Core;
using SpecEE.Core.Formats;
using SpecEE.Core.Model;
using T = SpecEE.Core.Formats.GgufValueType;

namespace SpecEE.Tests.Formats;

/// <summary>GGUF features the real fixtures do not exercise, on hand-built files with hand-computed values.</summary>
public class GgufSyntheticTests
{
    private static GgufFile Parse(GgufTestWriter w, string name = "synthetic.gguf") => GgufFile.Parse(name, w.ToBytes());

    [Test]
    public void EveryScalarTypeAndNestedArrays_ReadBack()
    {
        var g = Parse(new GgufTestWriter()
            .Kv("u8", T.UInt8, 200).Kv("i8", T.Int8, -100).Kv("u16", T.UInt16, 60000).Kv("i16", T.Int16, -30000)
            .Kv("u32", T.UInt32, 4000000000u).Kv("i32", T.Int32, -2000000000).Kv("f32", T.Float32, 1.5f)
            .Kv("bool", T.Bool, true).Kv("str", T.String, "héllo ▁world").Kv("u64", T.UInt64, ulong.MaxValue)
            .Kv("i64", T.Int64, long.MinValue).Kv("f64", T.Float64, 0.1)
            .Array("nested", T.Array, (T.Int32, new object[] { 1, 2 }), (T.Int32, new object[] { }), (T.Int32, new object[] { -3 }))
            .Array("empty", T.String));
        Assert.That(g.Keys, Has.Count.EqualTo(14));
        Assert.That(g.GetValue("u8").Value, Is.EqualTo((byte)200));
        Assert.That(g.GetValue("i8").Value, Is.EqualTo((sbyte)-100));
        Assert.That(g.GetValue("u16").Value, Is.EqualTo((ushort)60000));
        Assert.That(g.GetValue("i16").Value, Is.EqualTo((short)-30000));
        Assert.That(g.GetUInt32("u32"), Is.EqualTo(4000000000u));
        Assert.That(g.GetInt32("i32"), Is.EqualTo(-2000000000));
        Assert.That(g.GetFloat("f32"), Is.EqualTo(1.5f));
        Assert.That(g.GetBool("bool"), Is.True);
        Assert.That(g.GetString("str"), Is.EqualTo("héllo ▁world"));
        Assert.That(g.GetValue("u64").Value, Is.EqualTo(ulong.MaxValue));
        Assert.That(g.GetInt64("i64"), Is.EqualTo(long.MinValue));
        Assert.That(g.GetValue("f64").Value, Is.EqualTo(0.1));
        Assert.That(g.GetFloat("f64"), Is.EqualTo(0.1f));
        var nested = (GgufArray)g.GetValue("nested").Value;
        Assert.That(nested.ElementType, Is.EqualTo(T.Array));
        var inner = nested.Items.Cast<GgufArray>().Select(a => (int[])a.Items).ToArray();
        Assert.That(inner, Is.EqualTo(new[] { new[] { 1, 2 }, System.Array.Empty<int>(), new[] { -3 } }));
        Assert.That(g.GetStringArray("empty"), Is.Empty);
    }

    [Test]
    public void IntegerGetters_AcceptAnyWidthThatFits_AndRejectWhatDoesNot()
    {
        var g = Parse(new GgufTestWriter()
            .Kv("small", T.UInt8, 7).Kv("wide", T.UInt64, 4096UL).Kv("huge", T.UInt64, 1UL << 40).Kv("neg", T.Int32, -1)
            .Array("ids", T.UInt16, (ushort)5, (ushort)65535).Array("bigids", T.Int64, 1L << 33));
        Assert.That(g.GetInt32("small"), Is.EqualTo(7));
        Assert.That(g.GetUInt32("wide"), Is.EqualTo(4096u));
        Assert.That(g.GetInt64("huge"), Is.EqualTo(1L << 40));
        Assert.That(g.GetInt32Array("ids"), Is.EqualTo(new[] { 5, 65535 }));
        Assert.That(() => g.GetInt32("huge"), Throws.TypeOf<ModelFormatException>().With.Message.Contains("'huge' is 1099511627776, which does not fit in int32"));
        Assert.That(() => g.GetUInt32("neg"), Throws.TypeOf<ModelFormatException>().With.Message.Contains("does not fit in uint32"));
        Assert.That(() => g.GetInt32Array("bigids"), Throws.TypeOf<ModelFormatException>().With.Message.Contains("element 0"));
    }

    [Test]
    public void Getters_NameFileAndKey_OnMissingOrWrongType()
    {
        var g = Parse(new GgufTestWriter().Kv("n", T.UInt32, 3).Kv("s", T.String, "x").Array("f", T.Float32, 1f, 2f), "model-x.gguf");
        Assert.That(() => g.GetString("n"), Throws.TypeOf<ModelFormatException>().With.Message.EqualTo("model-x.gguf: metadata key 'n' is UInt32 3, expected a string"));
        Assert.That(() => g.GetInt32("s"), Throws.TypeOf<ModelFormatException>().With.Message.Contains("'s' is String x, expected an integer"));
        Assert.That(() => g.GetStringArray("f"), Throws.TypeOf<ModelFormatException>().With.Message.Contains("array<Float32>[2], expected an array of strings"));
        Assert.That(() => g.GetBool("absent"), Throws.TypeOf<ModelFormatException>().With.Message.EqualTo("model-x.gguf: metadata key 'absent' is missing"));
        Assert.That(g.TryGetInt32("absent", out _), Is.False);
        Assert.That(g.TryGetFloatArray("f", out var f) && f.SequenceEqual([1f, 2f]), Is.True);
        Assert.That(() => g.TryGetString("n", out _), Throws.TypeOf<ModelFormatException>(), "present with the wrong type is an error, not a default");
    }

    [Test]
    public void Version2_Alignment64_AndHandComputedF16Bf16Q8_0Tensors()
    {
        // Q8_0: block 0 has d = 0.25 and q = i − 16; block 1 has d = 3 and q = 127, −128, then zeros.
        var q8 = new byte[2 * 34];
        BitConverter.GetBytes((Half)0.25f).CopyTo(q8, 0);
        for (int i = 0; i < 32; i++) q8[2 + i] = (byte)(sbyte)(i - 16);
        BitConverter.GetBytes((Half)3f).CopyTo(q8, 34);
        q8[36] = 127; q8[37] = unchecked((byte)(sbyte)-128);
        // BF16 1.0 = 0x3F80, −2.5 = 0xC020, 0x4049 = 3.140625.
        byte[] bf16 = [0x80, 0x3F, 0x20, 0xC0, 0x49, 0x40];
        byte[] f16 = [.. BitConverter.GetBytes((Half)0.1f), .. BitConverter.GetBytes((Half)(-65504f))];
        var w = new GgufTestWriter { Version = 2, Alignment = 64 }
            .Kv("general.alignment", T.UInt32, 64u)
            .Tensor("bf16", [3], 30, bf16)
            .Tensor("q8", [32, 2], 8, q8)
            .Tensor("f16", [2], 1, f16);
        var g = Parse(w);
        Assert.That(g.Version, Is.EqualTo(2u));
        Assert.That(g.Alignment, Is.EqualTo(64u));
        Assert.That(g.DataStart % 64, Is.EqualTo(0));
        Assert.That(g.Tensor("q8").Offset, Is.EqualTo(64), "the 6-byte bf16 tensor is padded to the 64-byte alignment");
        Assert.That(g.ReadF32("bf16", 3), Is.EqualTo(new[] { 1f, -2.5f, 3.140625f }));
        Assert.That(g.ReadF32("f16", 2), Is.EqualTo(new[] { (float)(Half)0.1f, -65504f }));
        float[] expected = [.. Enumerable.Range(0, 32).Select(i => 0.25f * (i - 16)), 381f, -384f, .. new float[30]];
        Assert.That(g.ReadF32("q8", 2, 32), Is.EqualTo(expected));
        Assert.That(g.ReadRaw("q8"), Is.EqualTo(q8));
        Assert.That(() => g.ReadF32("q8", 32, 2), Throws.TypeOf<ModelFormatException>()
            .With.Message.EqualTo("synthetic.gguf: tensor 'q8' has shape [2, 32] (ggml ne [32, 2]), expected [32, 2]"));
    }

    [Test]
    public void CorruptStructures_AreRejectedWithTheirLocation()
    {
        static string Error(GgufTestWriter w) =>
            Assert.Throws<ModelFormatException>(() => GgufFile.Parse("bad.gguf", w.ToBytes()))!.Message;

        var deep = (T.Int32, new object[] { 1 });
        for (int i = 0; i < 9; i++) deep = (T.Array, new object[] { deep });
        Assert.That(Error(new GgufTestWriter().Kv("deep", T.Array, deep)), Does.Contain("nests arrays deeper than 8"));
        Assert.That(Error(new GgufTestWriter().Kv("a", T.UInt8, 1).Kv("a", T.UInt8, 2)), Does.Contain("'a' appears twice"));
        Assert.That(Error(new GgufTestWriter().Kv("flag", T.Bool, (byte)2)), Does.Contain("metadata 'flag' is a bool with byte value 2"));
        Assert.That(Error(new GgufTestWriter().Kv("x", (T)13, 0u)), Does.Contain("metadata 'x' has unknown value type 13"));
        Assert.That(Error(new GgufTestWriter().Kv("general.alignment", T.UInt32, 48u)), Does.Contain("general.alignment is 48"));
        Assert.That(Error(new GgufTestWriter().Tensor("t", [4], 99, new byte[16])), Does.Contain("tensor 't' has unknown ggml type 99"));
        Assert.That(Error(new GgufTestWriter().Tensor("t", [2, 2, 2, 2, 2], 0, new byte[128])), Does.Contain("tensor 't' has n_dims 5"));
        Assert.That(Error(new GgufTestWriter().Tensor("t", [4, 0], 0, [])), Does.Contain("zero or overflowing dimension"));
        Assert.That(Error(new GgufTestWriter().Tensor("t", [48], 8, new byte[51])), Does.Contain("row length 48 is not a multiple of the block size 32"));
        Assert.That(Error(new GgufTestWriter().Tensor("t", [1L << 31, 1L << 31, 1L << 31], 0, [])), Does.Contain("overflowing"));
        Assert.That(Error(new GgufTestWriter().TensorF32("t", [2], [1, 2]).TensorF32("t", [2], [1, 2])), Does.Contain("'t' appears twice"));
    }

    [Test]
    public void UnsupportedQuantisation_ParsesButReadF32SaysWhichType()
    {
        var g = Parse(new GgufTestWriter().Tensor("k", [256], 12, new byte[144]));
        Assert.That(g.Tensor("k").Type, Is.EqualTo(GgmlType.Q4_K));
        Assert.That(() => g.ReadF32("k", 256), Throws.TypeOf<ModelFormatException>()
            .With.Message.Contains("tensor 'k' is Q4_K, which this reader cannot dequantise"));
    }

    [Test]
    public void TinyLlama_TiedClassifier_RowMajorFromGgmlOrder_AndMetadataDefaults()
    {
        // dim 8, hidden 12, 1 layer, 2 heads (headDim 4), 1 KV head, vocab 6; no output.weight → tied.
        var rng = new Random(7);
        float[] Rand(int n) => Enumerable.Range(0, n).Select(_ => (float)rng.NextDouble() - 0.5f).ToArray();
        var values = new Dictionary<string, float[]>();
        var w = new GgufTestWriter()
            .Kv("general.architecture", T.String, "llama")
            .Kv("llama.embedding_length", T.UInt32, 8u).Kv("llama.feed_forward_length", T.UInt32, 12u)
            .Kv("llama.block_count", T.UInt32, 1u).Kv("llama.attention.head_count", T.UInt32, 2u)
            .Kv("llama.attention.head_count_kv", T.UInt32, 1u).Kv("llama.context_length", T.UInt64, 32UL)
            .Kv("llama.attention.layer_norm_rms_epsilon", T.Float32, 1e-6f)
            .Kv("tokenizer.ggml.bos_token_id", T.UInt32, 3u).Kv("tokenizer.ggml.eos_token_id", T.Int32, 4);
        void Add(string name, params long[] shape)
        {
            values[name] = Rand((int)shape.Aggregate(1L, (a, b) => a * b));
            w.TensorF32(name, shape.Reverse().ToArray(), values[name]); // ggml ne is the row-major shape reversed
        }
        Add("token_embd.weight", 6, 8);
        Add("blk.0.attn_norm.weight", 8);
        Add("blk.0.attn_q.weight", 8, 8);
        Add("blk.0.attn_k.weight", 4, 8);
        Add("blk.0.attn_v.weight", 4, 8);
        Add("blk.0.attn_output.weight", 8, 8);
        Add("blk.0.ffn_norm.weight", 8);
        Add("blk.0.ffn_gate.weight", 12, 8);
        Add("blk.0.ffn_up.weight", 12, 8);
        Add("blk.0.ffn_down.weight", 8, 12);
        Add("output_norm.weight", 8);
        string path = TestPaths.TempFile("tiny-tied.gguf");
        File.WriteAllBytes(path, w.ToBytes());

        var m = GgufLlamaReader.Load(path);
        var c = m.Config;
        Assert.That((c.Dim, c.HiddenDim, c.NLayers, c.NHeads, c.NKvHeads, c.Vocab, c.MaxSeq), Is.EqualTo((8, 12, 1, 2, 1, 6, 32)));
        Assert.That((c.NormEps, c.RopeTheta, c.BosId, c.EosId), Is.EqualTo((1e-6f, 10000f, 3, 4)));
        Assert.That(c.TiedClassifier, Is.True);
        Assert.That(m.Weights.Classifier, Is.SameAs(m.Weights.TokenEmbedding));
        Assert.That(m.Weights.TokenEmbedding, Is.EqualTo(values["token_embd.weight"]));
        var l = m.Weights.Layers[0];
        Assert.That(l.Wk, Is.EqualTo(values["blk.0.attn_k.weight"]), "GGUF Q/K rows are already interleaved: no permutation");
        Assert.That(l.Wq, Is.EqualTo(values["blk.0.attn_q.weight"]));
        Assert.That(l.W2, Is.EqualTo(values["blk.0.ffn_down.weight"]));
        Assert.That(m.Weights.FinalNorm, Is.EqualTo(values["output_norm.weight"]));
    }
}
