using System.Reflection;
using System.Text;
using NUnit.Framework.Api;
using NUnit.Framework.Interfaces;
using NUnit.Framework.Internal;

namespace SpecEE.GpuCheck;

/// <summary>One test's outcome, as the report lists it.</summary>
internal sealed record TestOutcome(string Name, string Status, double Seconds, string Message);

/// <summary>
/// Runs the compiled-in NUnit tests whose full name starts with one of the prefixes, in-process through
/// NUnit's framework runner (no test host, no .NET SDK on the device), and streams one line per test.
/// </summary>
internal static class TestRun
{
    public static List<TestOutcome> Run(IReadOnlyList<string> prefixes, TextWriter log)
    {
        var runner = new NUnitTestAssemblyRunner(new DefaultTestAssemblyBuilder());
        var settings = new Dictionary<string, object> { ["NumberOfTestWorkers"] = 0 }; // one thread: GPU tests share the device
        // By name, not by Assembly: in a single-file bundle Assembly.Location is empty, which NUnit's builder
        // rejects; loading the name returns this very (already loaded) assembly.
        runner.Load(Assembly.GetExecutingAssembly().GetName().Name!, settings);
        var listener = new Listener(log);
        runner.Run(listener, new PrefixFilter(prefixes));
        return listener.Outcomes;
    }

    private sealed class PrefixFilter(IReadOnlyList<string> prefixes) : TestFilter
    {
        public override bool Match(ITest test) =>
            !test.IsSuite && prefixes.Any(p => test.FullName.StartsWith(p, StringComparison.Ordinal));

        public override TNode AddToXml(TNode parentNode, bool recursive) => parentNode.AddElement("prefixes", string.Join(";", prefixes));
    }

    private sealed class Listener(TextWriter log) : ITestListener
    {
        public List<TestOutcome> Outcomes { get; } = [];

        public void TestStarted(ITest test) { }

        public void TestFinished(ITestResult result)
        {
            if (result.Test.IsSuite)
            {
                // A fixture that failed in its setup reports here once; its tests report as failed children too.
                return;
            }
            string status = result.ResultState.Status.ToString();
            string message = (result.Message ?? "").Trim();
            var outcome = new TestOutcome(result.Test.FullName, status, result.Duration, message);
            Outcomes.Add(outcome);
            var line = new StringBuilder($"{status,-12} {result.Duration,8:F2}s  {result.Test.FullName}");
            if (status is "Failed" or "Skipped" && message.Length > 0)
                line.Append("\n             ").Append(message.Replace("\n", "\n             "));
            if (!string.IsNullOrWhiteSpace(result.Output) && status == "Failed")
                line.Append("\n             output: ").Append(result.Output.Trim().Replace("\n", "\n             "));
            log.WriteLine(line.ToString());
            log.Flush();
        }

        public void TestOutput(TestOutput output) { }

        public void SendMessage(TestMessage message) { }
    }
}
