namespace SpecEE.Tests;

/// <summary>Where test data lives: tests/fixtures (copied beside the test assembly) and the repo's models/ folder.</summary>
internal static class TestPaths
{
    /// <summary>A file from tests/fixtures, e.g. Fixture("stories260K.bin").</summary>
    public static string Fixture(string name)
    {
        string p = Path.Combine(AppContext.BaseDirectory, "fixtures", name);
        if (!File.Exists(p)) Assert.Fail($"fixture {name} is missing at {p}");
        return p;
    }

    /// <summary>Root of the repository (the folder holding SpecEE.Native.sln).</summary>
    public static string RepoRoot
    {
        get
        {
            for (var d = new DirectoryInfo(AppContext.BaseDirectory); d != null; d = d.Parent)
                if (File.Exists(Path.Combine(d.FullName, "SpecEE.Native.sln"))) return d.FullName;
            throw new InvalidOperationException("SpecEE.Native.sln not found above " + AppContext.BaseDirectory);
        }
    }

    /// <summary>The embedded default model (tinystories-16L) shipped in models/.</summary>
    public static string DefaultModelDir => Path.Combine(RepoRoot, "models", "tinystories-16L");

    /// <summary>A scratch file path inside a fresh temporary folder, removed by the OS's temp cleanup.</summary>
    public static string TempFile(string name)
    {
        string dir = Path.Combine(Path.GetTempPath(), "specee-tests-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        return Path.Combine(dir, name);
    }
}
