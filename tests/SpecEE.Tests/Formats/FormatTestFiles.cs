using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace SpecEE.Tests.Formats;

/// <summary>
/// Scratch copies of the real fixtures for tests that corrupt them. Every folder made here is deleted by
/// <see cref="Cleanup"/> (call it from a [TearDown]) so a run does not leave 13 MB copies behind.
/// </summary>
internal sealed class FormatTestFiles
{
    private readonly List<string> _dirs = [];

    /// <summary>A fresh path named <paramref name="name"/> inside its own temporary folder.</summary>
    public string NewPath(string name)
    {
        string p = TestPaths.TempFile(name);
        _dirs.Add(Path.GetDirectoryName(p)!);
        return p;
    }

    /// <summary>A copy of tinystories-16L's config.json and model.safetensors in a new folder; returns the folder.</summary>
    public string CopyHfModel()
    {
        string dir = Path.GetDirectoryName(NewPath("model.safetensors"))!;
        foreach (string f in new[] { "config.json", "model.safetensors" })
            File.Copy(Path.Combine(TestPaths.DefaultModelDir, f), Path.Combine(dir, f));
        return dir;
    }

    /// <summary>A copy of the HF model whose config.json was changed by <paramref name="edit"/>; returns the folder.</summary>
    public string CopyHfModelWithConfig(Action<JsonObject> edit)
    {
        string dir = CopyHfModel();
        string path = Path.Combine(dir, "config.json");
        var cfg = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        edit(cfg);
        File.WriteAllText(path, cfg.ToJsonString());
        return dir;
    }

    /// <summary>A copy of the HF model whose safetensors header was changed by <paramref name="edit"/>; returns the folder.</summary>
    public string CopyHfModelWithHeader(Action<JsonObject> edit)
    {
        string dir = CopyHfModel();
        string path = Path.Combine(dir, "model.safetensors");
        var (header, data) = Safetensors.Split(File.ReadAllBytes(path));
        edit(header);
        File.WriteAllBytes(path, Safetensors.Join(header, data));
        return dir;
    }

    /// <summary>Writes <paramref name="bytes"/> to a new file named <paramref name="name"/>; returns its path.</summary>
    public string Write(string name, byte[] bytes)
    {
        string p = NewPath(name);
        File.WriteAllBytes(p, bytes);
        return p;
    }

    public void Cleanup()
    {
        foreach (string d in _dirs)
            if (Directory.Exists(d)) Directory.Delete(d, recursive: true);
        _dirs.Clear();
    }

    /// <summary>Independent safetensors split/join (u64 LE header length, JSON header, data) for building bad files.</summary>
    public static class Safetensors
    {
        public static (JsonObject Header, byte[] Data) Split(byte[] file)
        {
            int n = checked((int)BinaryPrimitives.ReadUInt64LittleEndian(file));
            var header = JsonNode.Parse(Encoding.UTF8.GetString(file, 8, n))!.AsObject();
            return (header, file[(8 + n)..]);
        }

        public static byte[] Join(JsonObject header, byte[] data)
        {
            byte[] json = Encoding.UTF8.GetBytes(header.ToJsonString());
            var file = new byte[8 + json.Length + data.Length];
            BinaryPrimitives.WriteUInt64LittleEndian(file, (ulong)json.Length);
            json.CopyTo(file, 8);
            data.CopyTo(file, 8 + json.Length);
            return file;
        }

        /// <summary>Absolute file offset of element <paramref name="element"/> of an F32 tensor.</summary>
        public static int F32Offset(byte[] file, string tensor, int element)
        {
            int n = checked((int)BinaryPrimitives.ReadUInt64LittleEndian(file));
            using var doc = JsonDocument.Parse(file.AsMemory(8, n));
            int begin = doc.RootElement.GetProperty(tensor).GetProperty("data_offsets")[0].GetInt32();
            return 8 + n + begin + 4 * element;
        }
    }
}
