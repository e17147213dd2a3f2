using System.Globalization;
using SpecEE.Core;

namespace SpecEE.Cli;

/// <summary>A command-line mistake: printed with the command's usage, exit code 2.</summary>
public sealed class UsageException(string message) : Exception(message);

/// <summary>
/// Minimal `--name value` / `--flag` parser. Each command declares the options it accepts, so a typo
/// is reported as an unknown option instead of being ignored.
/// </summary>
public sealed class CliArgs
{
    private readonly Dictionary<string, string?> _values = new(StringComparer.Ordinal);

    public string Command { get; }

    private CliArgs(string command) => Command = command;

    /// <param name="valued">options that take a value, e.g. "--model", "-n"</param>
    /// <param name="flags">options without a value, e.g. "--json"</param>
    public static CliArgs Parse(string command, IEnumerable<string> args, ISet<string> valued, ISet<string> flags)
    {
        var r = new CliArgs(command);
        using var e = args.GetEnumerator();
        while (e.MoveNext())
        {
            string a = e.Current;
            string name = a;
            string? inline = null;
            int eq = a.IndexOf('=');
            if (a.StartsWith("--", StringComparison.Ordinal) && eq > 2) { name = a[..eq]; inline = a[(eq + 1)..]; }
            if (flags.Contains(name))
            {
                if (inline != null) throw new UsageException($"option {name} takes no value");
                r._values[name] = null;
            }
            else if (valued.Contains(name))
            {
                string? v = inline;
                if (v == null)
                {
                    if (!e.MoveNext()) throw new UsageException($"option {name} needs a value");
                    v = e.Current;
                }
                r._values[name] = v;
            }
            else throw new UsageException(a.StartsWith('-') ? $"unknown option {a}" : $"unexpected argument '{a}'");
        }
        return r;
    }

    public bool Has(string name) => _values.ContainsKey(name);

    public string? String(string name) => _values.TryGetValue(name, out var v) ? v : null;

    public int Int(string name, int fallback, int min = int.MinValue, int max = int.MaxValue)
    {
        string? s = String(name);
        if (s == null) return fallback;
        if (!int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) || v < min || v > max)
            throw new UsageException($"option {name} wants an integer in [{min}, {max}], got '{s}'");
        return v;
    }

    public ulong ULong(string name, ulong fallback)
    {
        string? s = String(name);
        if (s == null) return fallback;
        if (!ulong.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out ulong v))
            throw new UsageException($"option {name} wants a non-negative integer, got '{s}'");
        return v;
    }

    public float Float(string name, float fallback, float min, float max)
    {
        string? s = String(name);
        if (s == null) return fallback;
        if (!float.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out float v) || !float.IsFinite(v) || v < min || v > max)
            throw new UsageException($"option {name} wants a number in [{min}, {max}], got '{s}'");
        return v;
    }

    public T Choice<T>(string name, T fallback, params (string Text, T Value)[] choices)
    {
        string? s = String(name);
        if (s == null) return fallback;
        foreach (var (text, value) in choices)
            if (text == s) return value;
        throw new UsageException($"option {name} wants one of {string.Join(", ", choices.Select(c => c.Text))}, got '{s}'");
    }
}
