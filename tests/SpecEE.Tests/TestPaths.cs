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

    /// <summary>
    /// One folder per test run under the temp directory; every scratch file lives below it and
    /// <see cref="TestRunCleanup"/> deletes it when the run ends (a run writes a few hundred MB of
    /// corrupted model copies, which must not pile up on a CI disk).
    /// </summary>
    public static readonly string RunTempRoot =
        Path.Combine(Path.GetTempPath(), $"specee-tests-{Environment.ProcessId}-{Guid.NewGuid().ToString("N")[..8]}");

    /// <summary>A new empty folder below <see cref="RunTempRoot"/>.</summary>
    public static string FreshDirectory()
    {
        string dir = Path.Combine(RunTempRoot, Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(dir);
        return dir;
    }

    /// <summary>A scratch file path inside a fresh folder below <see cref="RunTempRoot"/>.</summary>
    public static string TempFile(string name) => Path.Combine(FreshDirectory(), name);
}

/// <summary>Deletes <see cref="TestPaths.RunTempRoot"/> after the last test of the run.</summary>
[SetUpFixture]
public sealed class TestRunCleanup
{
    [OneTimeTearDown]
    public void DeleteRunTempRoot()
    {
        try
        {
            if (Directory.Exists(TestPaths.RunTempRoot)) Directory.Delete(TestPaths.RunTempRoot, recursive: true);
        }
        catch (IOException e) { TestContext.Progress.WriteLine($"could not delete {TestPaths.RunTempRoot}: {e.Message}"); }
        catch (UnauthorizedAccessException e) { TestContext.Progress.WriteLine($"could not delete {TestPaths.RunTempRoot}: {e.Message}"); }
    }
}
