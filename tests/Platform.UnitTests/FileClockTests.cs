using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using ScoringPlatform.ServiceDefaults;

namespace ScoringPlatform.Platform.UnitTests;

public sealed class FileClockTests : IDisposable
{
    private static readonly DateTimeOffset T0 = new(2027, 1, 1, 12, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);
    private readonly string _dir = Directory.CreateTempSubdirectory("clock-").FullName;

    private string ClockFile => Path.Combine(_dir, "now");

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Now_is_the_instant_written_in_the_file_and_follows_it_when_rewritten()
    {
        FileTimeProvider.Write(ClockFile, T0);
        var clock = new FileTimeProvider(ClockFile, cacheFor: TimeSpan.Zero);
        clock.GetUtcNow().Should().Be(T0);

        File.WriteAllText(ClockFile, "2027-01-02T03:04:05.123+02:00\n");
        clock.GetUtcNow().Should().Be(new DateTimeOffset(2027, 1, 2, 1, 4, 5, 123, TimeSpan.Zero));
        clock.GetUtcNow().Offset.Should().Be(TimeSpan.Zero);
    }

    [Fact]
    public async Task A_delay_on_the_file_clock_completes_once_the_file_passes_its_due_instant_and_not_before()
    {
        FileTimeProvider.Write(ClockFile, T0);
        var clock = new FileTimeProvider(ClockFile, pollInterval: TimeSpan.FromMilliseconds(20));
        var hour = Task.Delay(TimeSpan.FromHours(1), clock);
        var tenMinutes = Task.Delay(TimeSpan.FromMinutes(10), clock);

        FileTimeProvider.Write(ClockFile, T0.AddMinutes(30));
        // Sentinel: the shorter delay completes, so the timers have seen the clock at T0 + 30 min.
        await tenMinutes.WaitAsync(Patience);
        hour.IsCompleted.Should().BeFalse("the file clock is 30 minutes short of the hour");

        FileTimeProvider.Write(ClockFile, T0.AddHours(1));
        await hour.WaitAsync(Patience);
    }

    [Fact]
    public async Task A_periodic_timer_fires_again_as_the_clock_moves_on()
    {
        FileTimeProvider.Write(ClockFile, T0);
        var clock = new FileTimeProvider(ClockFile, pollInterval: TimeSpan.FromMilliseconds(20));
        var fired = 0;
        var second = new TaskCompletionSource();
        using var timer = clock.CreateTimer(_ =>
        {
            if (Interlocked.Increment(ref fired) == 2) second.TrySetResult();
        }, null, TimeSpan.FromMinutes(1), TimeSpan.FromMinutes(1));

        FileTimeProvider.Write(ClockFile, T0.AddMinutes(1));
        FileTimeProvider.Write(ClockFile, T0.AddMinutes(2));
        await second.Task.WaitAsync(Patience);
    }

    [Fact]
    public void A_missing_file_is_a_clear_error_naming_the_path()
    {
        var act = () => new FileTimeProvider(ClockFile);
        act.Should().Throw<InvalidOperationException>().WithMessage($"*Clock:File*{ClockFile}*RFC 3339*");
    }

    [Theory]
    [InlineData("tomorrow")]
    [InlineData("2027-01-01T00:00:00")]
    [InlineData("2027-01-01")]
    [InlineData("")]
    public void A_file_without_an_RFC_3339_instant_with_an_offset_is_a_clear_error(string content)
    {
        File.WriteAllText(ClockFile, content);
        var act = () => new FileTimeProvider(ClockFile);
        act.Should().Throw<InvalidOperationException>().WithMessage($"*{ClockFile}*not an RFC 3339 instant*");
    }

    [Fact]
    public void The_platform_clock_is_the_system_clock_unless_a_clock_file_is_configured()
    {
        FileTimeProvider.Write(ClockFile, T0);
        var system = new ServiceCollection().AddPlatformClock(new ConfigurationBuilder().Build()).BuildServiceProvider();
        system.GetRequiredService<TimeProvider>().Should().BeSameAs(TimeProvider.System);

        var configured = new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?> { [PlatformClock.FileKey] = ClockFile })
            .Build();
        var services = new ServiceCollection();
        services.AddSingleton(TimeProvider.System);
        var file = services.AddPlatformClock(configured).BuildServiceProvider();
        file.GetRequiredService<TimeProvider>().GetUtcNow().Should().Be(T0, "the file clock replaces a system clock registered before it");
    }
}
