using System.Text.Json;

namespace SpecEE.Core.Formats;

/// <summary>
/// Where each tensor of an HF checkpoint lives: one <c>model.safetensors</c>, or the shards listed by a
/// <c>model.safetensors.index.json</c> (<c>{"weight_map": {tensor: "model-0000k-of-0000n.safetensors"}}</c>,
/// shard names relative to the index). <see cref="Path"/> is the file that names the checkpoint in messages.
/// </summary>
internal sealed class HfTensorSource
{
    private readonly Dictionary<string, SafetensorsFile> _byName;

    /// <summary>The single safetensors file, or the index of a sharded checkpoint.</summary>
    public string Path { get; }

    private HfTensorSource(string path, Dictionary<string, SafetensorsFile> byName)
    {
        Path = path; _byName = byName;
    }

    public IEnumerable<string> Names => _byName.Keys;

    public bool Contains(string name) => _byName.ContainsKey(name);

    /// <summary>The file holding <paramref name="name"/>; null when no file has it.</summary>
    public SafetensorsFile? FileOf(string name) => _byName.GetValueOrDefault(name);

    public static HfTensorSource Single(string safetensorsPath)
    {
        var file = SafetensorsFile.Open(safetensorsPath);
        return new HfTensorSource(safetensorsPath, file.Names.ToDictionary(n => n, _ => file, StringComparer.Ordinal));
    }

    public static HfTensorSource Sharded(string indexPath)
    {
        if (!File.Exists(indexPath)) throw new ModelFormatException($"{indexPath}: file not found");
        string dir = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(indexPath)) ?? ".";
        var weightMap = ReadWeightMap(indexPath);
        var shards = new Dictionary<string, SafetensorsFile>(StringComparer.Ordinal);
        var byName = new Dictionary<string, SafetensorsFile>(StringComparer.Ordinal);
        foreach (var (tensor, shardName) in weightMap)
        {
            // Shards sit beside the index; a path elsewhere is a corrupt (or hostile) index.
            if (shardName.Length == 0 || shardName != System.IO.Path.GetFileName(shardName))
                throw new ModelFormatException($"{indexPath}: weight_map entry '{tensor}' names shard \"{shardName}\", expected a file name beside the index");
            if (!shards.TryGetValue(shardName, out var shard))
            {
                string shardPath = System.IO.Path.Combine(dir, shardName);
                if (!File.Exists(shardPath))
                    throw new ModelFormatException($"{indexPath}: shard {shardName} (holding '{tensor}') not found at {shardPath}");
                shards[shardName] = shard = SafetensorsFile.Open(shardPath);
            }
            if (!shard.Contains(tensor))
                throw new ModelFormatException($"{shard.Path}: tensor '{tensor}' is missing, but {indexPath} places it in this shard");
            byName[tensor] = shard;
        }
        return new HfTensorSource(indexPath, byName);
    }

    private static List<(string Tensor, string Shard)> ReadWeightMap(string indexPath)
    {
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllBytes(indexPath));
            if (doc.RootElement.ValueKind != JsonValueKind.Object
                || !doc.RootElement.TryGetProperty("weight_map", out var map) || map.ValueKind != JsonValueKind.Object)
                throw new ModelFormatException($"{indexPath}: expected a JSON object with a \"weight_map\" object");
            var entries = new List<(string, string)>();
            foreach (var e in map.EnumerateObject())
            {
                if (e.Value.ValueKind != JsonValueKind.String)
                    throw new ModelFormatException($"{indexPath}: weight_map entry '{e.Name}' must be a shard file name, got {e.Value.ValueKind}");
                entries.Add((e.Name, e.Value.GetString()!));
            }
            if (entries.Count == 0) throw new ModelFormatException($"{indexPath}: weight_map is empty");
            return entries;
        }
        catch (JsonException e)
        {
            throw new ModelFormatException($"{indexPath}: not valid JSON ({e.Message})", e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ModelFormatException($"{indexPath}: cannot read ({e.Message})", e);
        }
    }
}
