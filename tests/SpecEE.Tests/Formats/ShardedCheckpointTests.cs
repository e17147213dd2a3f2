using System.Text.Json.Nodes;
using SpecEE.Core;
using SpecEE.Core.Formats;

namespace SpecEE.Tests.Formats;

/// <summary>
/// tinystories-16L split by the test into two shards plus <c>model.safetensors.index.json</c>, the layout
/// transformers writes for large checkpoints.
/// </summary>
public class ShardedCheckpointTests
{
    private const string Index = "model.safetensors.index.json";
    private const string Shard1 = "model-00001-of-00002.safetensors", Shard2 = "model-00002-of-00002.safetensors";
    private readonly FormatTestFiles _files = new();

    [TearDown]
    public void TearDown() => _files.Cleanup();

    /// <summary>Tensors sorted by name; the first half go to shard 1, the rest to shard 2. Returns the folder.</summary>
    private string WriteShards(Action<JsonObject>? editWeightMap = null)
    {
        string dir = Path.GetDirectoryName(_files.NewPath(Index))!;
        File.Copy(Path.Combine(TestPaths.DefaultModelDir, "config.json"), Path.Combine(dir, "config.json"));
        var (header, data) = FormatTestFiles.Safetensors.Split(File.ReadAllBytes(Path.Combine(TestPaths.DefaultModelDir, "model.safetensors")));
        var names = header.Select(p => p.Key).Where(n => n != "__metadata__").Order(StringComparer.Ordinal).ToList();
        var weightMap = new JsonObject();
        for (int s = 0; s < 2; s++)
        {
            var part = s == 0 ? names[..(names.Count / 2)] : names[(names.Count / 2)..];
            var shardHeader = new JsonObject();
            var shardData = new List<byte>();
            foreach (string n in part)
            {
                var entry = header[n]!.DeepClone().AsObject();
                int begin = (int)entry["data_offsets"]![0]!, end = (int)entry["data_offsets"]![1]!;
                entry["data_offsets"] = new JsonArray(shardData.Count, shardData.Count + end - begin);
                shardData.AddRange(data[begin..end]);
                shardHeader[n] = entry;
                weightMap[n] = s == 0 ? Shard1 : Shard2;
            }
            File.WriteAllBytes(Path.Combine(dir, s == 0 ? Shard1 : Shard2), FormatTestFiles.Safetensors.Join(shardHeader, shardData.ToArray()));
        }
        editWeightMap?.Invoke(weightMap);
        var index = new JsonObject { ["metadata"] = new JsonObject { ["total_size"] = data.Length }, ["weight_map"] = weightMap };
        File.WriteAllText(Path.Combine(dir, Index), index.ToJsonString());
        return dir;
    }

    [Test]
    public void Sharded_LoadsTheSameModelAsTheSingleFile()
    {
        string dir = WriteShards();
        var single = ModelLoader.Load(TestPaths.DefaultModelDir);
        foreach (string path in new[] { dir, Path.Combine(dir, Index), Path.Combine(dir, Shard2) })
        {
            var sharded = ModelLoader.Load(path);
            Assert.That(sharded.Config, Is.EqualTo(single.Config), path);
            Assert.That(sharded.SourcePath, Is.EqualTo(Path.Combine(dir, Index)), path);
            HfLlamaReaderTests.AssertSameValues(sharded.Weights.TokenEmbedding, single.Weights.TokenEmbedding, "embedding");
            HfLlamaReaderTests.AssertSameValues(sharded.Weights.Classifier, single.Weights.Classifier, "lm_head");
            for (int l = 0; l < 16; l += 5)
            {
                HfLlamaReaderTests.AssertSameValues(sharded.Weights.Layers[l].Wq, single.Weights.Layers[l].Wq, $"layer {l} wq");
                HfLlamaReaderTests.AssertSameValues(sharded.Weights.Layers[l].W2, single.Weights.Layers[l].W2, $"layer {l} w2");
            }
        }
    }

    private static string LoadFails(string dir, string file)
    {
        var e = Assert.Throws<ModelFormatException>(() => ModelLoader.Load(dir))!;
        Assert.That(e.Message, Does.StartWith(file));
        return e.Message;
    }

    [Test]
    public void ShardFileMissing()
    {
        string dir = WriteShards();
        File.Delete(Path.Combine(dir, Shard2));
        Assert.That(LoadFails(dir, Path.Combine(dir, Index)), Does.Contain($"shard {Shard2} (holding '").And.Contain("not found"));
    }

    [Test]
    public void TensorNotInIndex_IsMissingAndNamesTheIndex()
    {
        string dir = WriteShards(m => m.Remove("model.layers.4.mlp.gate_proj.weight"));
        Assert.That(LoadFails(dir, Path.Combine(dir, Index)), Does.Contain("tensor 'model.layers.4.mlp.gate_proj.weight' is missing"));
    }

    [Test]
    public void IndexPlacesTensorInTheWrongShard()
    {
        string dir = WriteShards(m => m["model.norm.weight"] = m["model.norm.weight"]!.GetValue<string>() == Shard1 ? Shard2 : Shard1);
        Assert.That(LoadFails(dir, Path.Combine(dir, "model-0000")),
            Does.Contain("tensor 'model.norm.weight' is missing, but").And.Contain("places it in this shard"));
    }

    [TestCase("../model-00001-of-00002.safetensors")]
    [TestCase("")]
    public void ShardNameOutsideTheFolder_IsRejected(string shard)
    {
        string dir = WriteShards(m => m["model.norm.weight"] = shard);
        Assert.That(LoadFails(dir, Path.Combine(dir, Index)), Does.Contain($"names shard \"{shard}\""));
    }

    [TestCase("{", "not valid JSON")]
    [TestCase("{\"weight_map\": []}", "expected a JSON object with a \"weight_map\" object")]
    [TestCase("{\"weight_map\": {}}", "weight_map is empty")]
    [TestCase("{\"weight_map\": {\"model.norm.weight\": 3}}", "weight_map entry 'model.norm.weight' must be a shard file name")]
    public void IndexCorrupted(string json, string expected)
    {
        string dir = WriteShards();
        File.WriteAllText(Path.Combine(dir, Index), json);
        Assert.That(LoadFails(dir, Path.Combine(dir, Index)), Does.Contain(expected));
    }
}
