using SpecEE.Core;
using SpecEE.Core.Formats;

namespace SpecEE.Tests.Formats;

/// <summary>
/// Seeded corruption of each real format through <see cref="ModelLoader.Load"/>: random single-byte changes in
/// the header region and truncations. A corrupted file may still load (a changed weight byte is a valid float),
/// but if anything is thrown it must be a <see cref="ModelFormatException"/> naming the file — never an
/// IndexOutOfRange, Overflow, OutOfMemory or JSON exception escaping from a reader.
/// </summary>
public class ReaderFuzzTests
{
    private readonly FormatTestFiles _files = new();

    [TearDown]
    public void TearDown() => _files.Cleanup();

    /// <summary>(fixture, name of the copy, bytes at the start that hold the header/metadata).</summary>
    private static readonly (string Source, string Name, int HeaderRegion)[] Formats =
    [
        ("llama2c", "stories260K.bin", 28),
        ("gguf", "tinystories-16L-q8_0.gguf", 24_000),
        ("safetensors", "model.safetensors", 8 + 15_736),
    ];

    private static byte[] Original(string source) => source switch
    {
        "llama2c" => File.ReadAllBytes(TestPaths.Fixture("stories260K.bin")),
        "gguf" => File.ReadAllBytes(TestPaths.Fixture("tinystories-16L-q8_0.gguf")),
        _ => File.ReadAllBytes(Path.Combine(TestPaths.DefaultModelDir, "model.safetensors")),
    };

    /// <summary>Writes the corrupted bytes where the loader will find them; returns (path to load, file at fault).</summary>
    private (string Load, string File) Place(string source, string name, byte[] bytes)
    {
        if (source != "safetensors")
        {
            string path = _files.Write(name, bytes);
            return (path, path);
        }
        string dir = Path.GetDirectoryName(_files.NewPath(name))!;
        File.Copy(Path.Combine(TestPaths.DefaultModelDir, "config.json"), Path.Combine(dir, "config.json"));
        string weights = Path.Combine(dir, name);
        File.WriteAllBytes(weights, bytes);
        return (dir, weights);
    }

    private void LoadsOrFailsCleanly(string source, string name, byte[] bytes, string what)
    {
        var (load, file) = Place(source, name, bytes);
        try
        {
            ModelLoader.Load(load);
        }
        catch (ModelFormatException e)
        {
            Assert.That(e.Message, Does.StartWith(file), $"{what}: message must name the file");
        }
        catch (Exception e)
        {
            Assert.Fail($"{what}: {e.GetType().Name} escaped the reader: {e.Message}");
        }
    }

    [TestCase("llama2c"), TestCase("gguf"), TestCase("safetensors")]
    public void HeaderBytesCorrupted_FailCleanlyOrLoad(string source)
    {
        var (_, name, region) = Formats.Single(f => f.Source == source);
        var original = Original(source);
        var rng = new Random(source.Length * 7919);
        for (int trial = 0; trial < 16; trial++)
        {
            var bytes = (byte[])original.Clone();
            int at = rng.Next(Math.Min(region, bytes.Length));
            // Half the trials flip one bit (small, plausible damage), half write a random byte.
            bytes[at] = trial % 2 == 0 ? (byte)(bytes[at] ^ (1 << rng.Next(8))) : (byte)rng.Next(256);
            LoadsOrFailsCleanly(source, name, bytes, $"{source} byte {at} = 0x{bytes[at]:X2} (was 0x{original[at]:X2})");
        }
    }

    [TestCase("llama2c"), TestCase("gguf"), TestCase("safetensors")]
    public void Truncated_AlwaysFailsCleanly(string source)
    {
        var (_, name, region) = Formats.Single(f => f.Source == source);
        var original = Original(source);
        var rng = new Random(source.Length * 104729);
        int[] cuts = [1, 4, 7, 8, 9, region / 2, region - 1, region, region + 1, rng.Next(region, original.Length), original.Length - 1];
        foreach (int keep in cuts.Where(k => k > 0 && k < original.Length).Distinct())
        {
            var (load, file) = Place(source, name, original[..keep]);
            var e = Assert.Throws<ModelFormatException>(() => ModelLoader.Load(load), $"{source} cut to {keep} bytes")!;
            Assert.That(e.Message, Does.StartWith(file), $"{source} cut to {keep} bytes");
        }
    }
}
