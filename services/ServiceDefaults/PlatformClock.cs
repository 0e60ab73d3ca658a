using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace ScoringPlatform.ServiceDefaults;

/// <summary>
/// The services' clock. <see cref="TimeProvider.System"/> unless configuration <c>Clock:File</c> names a file: then
/// "now" is the RFC 3339 instant written in that file (a test and ops hook: end-to-end tests move time forward by
/// rewriting it, so decay exits and SLA deadlines come due without waiting for them).
/// </summary>
public static class PlatformClock
{
    public const string FileKey = "Clock:File";

    /// <summary>Registers <see cref="TimeProvider"/>: the system clock, or a <see cref="FileTimeProvider"/> when <c>Clock:File</c> is set.</summary>
    public static IServiceCollection AddPlatformClock(this IServiceCollection services, IConfiguration configuration)
    {
        if (configuration[FileKey] is { Length: > 0 } path)
        {
            // Read once here, so a missing or unparseable file stops the start with its reason.
            services.Replace(ServiceDescriptor.Singleton<TimeProvider>(new FileTimeProvider(path)));
        }
        else
        {
            services.TryAddSingleton(TimeProvider.System);
        }

        return services;
    }
}

/// <summary>
/// A <see cref="TimeProvider"/> whose UTC now is the RFC 3339 instant in a file (re-read when older than
/// <see cref="CacheFor"/>). Timers compare their due instant with that clock every <see cref="PollInterval"/> of real
/// time, so <c>Task.Delay(…, provider)</c> completes once the file's instant passes it. Timestamps
/// (<see cref="TimeProvider.GetTimestamp"/>) stay the system's monotonic counter: they measure real durations.
/// </summary>
public sealed class FileTimeProvider : TimeProvider
{
    private readonly object _gate = new();
    private long _readAt;
    private DateTimeOffset _now;

    public FileTimeProvider(string path, TimeSpan? pollInterval = null, TimeSpan? cacheFor = null)
    {
        Path = global::System.IO.Path.GetFullPath(path);
        PollInterval = pollInterval ?? TimeSpan.FromMilliseconds(100);
        CacheFor = cacheFor ?? TimeSpan.FromMilliseconds(20);
        _now = Read();
        _readAt = Stopwatch.GetTimestamp();
    }

    public string Path { get; }
    public TimeSpan PollInterval { get; }
    public TimeSpan CacheFor { get; }

    /// <summary>Writes <paramref name="now"/> to <paramref name="path"/> in the format this clock reads (atomically: write, then rename).</summary>
    public static void Write(string path, DateTimeOffset now)
    {
        var temp = path + ".tmp";
        File.WriteAllText(temp, now.ToUniversalTime().ToString("O", CultureInfo.InvariantCulture));
        File.Move(temp, path, overwrite: true);
    }

    public override DateTimeOffset GetUtcNow()
    {
        lock (_gate)
        {
            if (Stopwatch.GetElapsedTime(_readAt) >= CacheFor)
            {
                _now = Read();
                _readAt = Stopwatch.GetTimestamp();
            }

            return _now;
        }
    }

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        ArgumentNullException.ThrowIfNull(callback);
        return new PollingTimer(this, callback, state, dueTime, period);
    }

    private DateTimeOffset Read()
    {
        string text;
        try
        {
            text = File.ReadAllText(Path).Trim();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new InvalidOperationException(
                $"{PlatformClock.FileKey} is '{Path}', which cannot be read ({ex.Message}). Write an RFC 3339 instant there, e.g. 2027-01-01T00:00:00Z.", ex);
        }

        if (!HasOffset(text) || !DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.None, out var now))
        {
            throw new InvalidOperationException(
                $"{PlatformClock.FileKey} '{Path}' holds '{Truncate(text)}', not an RFC 3339 instant with an offset (e.g. 2027-01-01T00:00:00Z).");
        }

        return now.ToUniversalTime();
    }

    private static bool HasOffset(string text) =>
        text.Length > 10 && text[10] is 'T' or 't' && (text[^1] is 'Z' or 'z' || (text.Length > 16 && text[^6] is '+' or '-' && text[^3] == ':'));

    private static string Truncate(string text) => text.Length <= 64 ? text : text[..64] + "…";

    /// <summary>Fires when the file clock reaches its due instant, checked on a real-time poll.</summary>
    private sealed class PollingTimer : ITimer
    {
        private readonly object _gate = new();
        private readonly FileTimeProvider _clock;
        private readonly TimerCallback _callback;
        private readonly object? _state;
        private readonly Timer _poll;
        private DateTimeOffset? _due;
        private TimeSpan _period;
        private bool _disposed;

        public PollingTimer(FileTimeProvider clock, TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
        {
            _clock = clock;
            _callback = callback;
            _state = state;
            _poll = new Timer(static s => ((PollingTimer)s!).Poll(), this, Timeout.Infinite, Timeout.Infinite);
            Change(dueTime, period);
        }

        public bool Change(TimeSpan dueTime, TimeSpan period)
        {
            lock (_gate)
            {
                if (_disposed) return false;
                _period = period;
                _due = dueTime == Timeout.InfiniteTimeSpan ? null : _clock.GetUtcNow() + dueTime;
                _poll.Change(_due is null ? Timeout.InfiniteTimeSpan : TimeSpan.Zero, _due is null ? Timeout.InfiniteTimeSpan : _clock.PollInterval);
                return true;
            }
        }

        private void Poll()
        {
            lock (_gate)
            {
                if (_disposed || _due is not { } due) return;
                DateTimeOffset now;
                try
                {
                    now = _clock.GetUtcNow();
                }
                catch (InvalidOperationException)
                {
                    return; // the file is being replaced or broken; callers reading the clock see the error
                }

                if (now < due) return;
                if (_period == Timeout.InfiniteTimeSpan || _period <= TimeSpan.Zero)
                {
                    _due = null;
                    _poll.Change(Timeout.Infinite, Timeout.Infinite);
                }
                else
                {
                    _due = due + _period;
                }
            }

            _callback(_state);
        }

        public void Dispose()
        {
            lock (_gate)
            {
                _disposed = true;
                _due = null;
            }

            _poll.Dispose();
        }

        public ValueTask DisposeAsync()
        {
            Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
