using System.Diagnostics;

namespace SpecEE.Cli;

/// <summary>
/// A progress line on stderr: redrawn in place with '\r' (at most 10 times a second) when stderr is a terminal,
/// otherwise a plain line every 10 % so that logs stay readable. Thread-safe.
/// </summary>
public sealed class ProgressBar
{
    private readonly TextWriter _err;
    private readonly string _label;
    private readonly bool _tty;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly object _gate = new();
    private long _lastDrawMs = -1000;
    private int _lastDecile = -1;
    private bool _finished;

    /// <param name="stderr">where to draw</param>
    /// <param name="label">what is progressing</param>
    public ProgressBar(TextWriter stderr, string label)
    {
        _err = stderr;
        _label = label;
        _tty = ReferenceEquals(stderr, Console.Error) && !Console.IsErrorRedirected;
    }

    /// <summary>Reports <paramref name="fraction"/> (0..1) done, with an optional detail such as "layer 3/15".</summary>
    public void Report(double fraction, string detail = "")
    {
        lock (_gate)
        {
            if (_finished) return;
            fraction = Math.Clamp(fraction, 0, 1);
            double seconds = _clock.Elapsed.TotalSeconds;
            string eta = fraction > 0.01 ? $" eta {TimeSpan.FromSeconds(seconds / fraction - seconds):mm\\:ss}" : "";
            if (_tty)
            {
                long ms = _clock.ElapsedMilliseconds;
                if (ms - _lastDrawMs < 100 && fraction < 1) return;
                _lastDrawMs = ms;
                int width = 30, filled = (int)(fraction * width);
                _err.Write($"\r{_label} [{new string('#', filled)}{new string('.', width - filled)}] {fraction,6:P1} {seconds,6:F1}s{eta} {detail}   ");
                _err.Flush();
            }
            else
            {
                int decile = (int)(fraction * 10);
                if (decile <= _lastDecile) return;
                _lastDecile = decile;
                _err.WriteLine($"{_label}: {fraction:P0} after {seconds:F1}s{eta} {detail}".TrimEnd());
            }
        }
    }

    /// <summary>Completes the line and returns the elapsed seconds.</summary>
    public double Finish(string summary = "")
    {
        lock (_gate)
        {
            if (_finished) return _clock.Elapsed.TotalSeconds;
            _finished = true;
            double seconds = _clock.Elapsed.TotalSeconds;
            if (_tty) _err.Write('\r');
            _err.WriteLine($"{_label}: done in {seconds:F1}s {summary}".TrimEnd() + (_tty ? "                    " : ""));
            return seconds;
        }
    }
}
