using System.Net.Sockets;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Npgsql;
using Polly.CircuitBreaker;
using ScoringPlatform.Ingestion.Consuming;
using ScoringPlatform.Ingestion.Health;

namespace ScoringPlatform.Platform.UnitTests;

public class StoreFailureHandlingTests
{
    private static PostgresException Pg(string sqlState) => new("refused", "ERROR", "ERROR", sqlState);

    [Theory]
    [InlineData("22021", StoreFailureKind.Rejected)] // invalid byte sequence (NUL)
    [InlineData("22P05", StoreFailureKind.Rejected)] // untranslatable character
    [InlineData("23514", StoreFailureKind.Rejected)] // check violation
    [InlineData("23502", StoreFailureKind.Rejected)] // not null violation
    [InlineData("54000", StoreFailureKind.Rejected)] // program limit exceeded
    [InlineData("57P01", StoreFailureKind.Transient)] // admin shutdown
    [InlineData("57P03", StoreFailureKind.Transient)] // cannot connect now
    [InlineData("08006", StoreFailureKind.Transient)] // connection failure
    [InlineData("53300", StoreFailureKind.Transient)] // too many connections
    [InlineData("40001", StoreFailureKind.Transient)] // serialization failure
    [InlineData("40P01", StoreFailureKind.Transient)] // deadlock
    [InlineData("42P01", StoreFailureKind.Transient)] // undefined table: the store, not the event
    [InlineData("XX000", StoreFailureKind.Unknown)]
    public void PostgreSQL_errors_are_classified_by_SQLSTATE(string sqlState, StoreFailureKind kind)
    {
        StoreFailures.Classify(Pg(sqlState)).Should().Be(kind);
        StoreFailures.Classify(new InvalidOperationException("wrapped by Marten", Pg(sqlState))).Should().Be(kind);
    }

    [Fact]
    public void Network_failures_are_transient_and_anything_else_is_unknown()
    {
        StoreFailures.Classify(new TimeoutException()).Should().Be(StoreFailureKind.Transient);
        StoreFailures.Classify(new SocketException((int)SocketError.ConnectionRefused)).Should().Be(StoreFailureKind.Transient);
        StoreFailures.Classify(new NpgsqlException("x", new IOException("reset"))).Should().Be(StoreFailureKind.Transient);
        StoreFailures.Classify(new BrokenCircuitException()).Should().Be(StoreFailureKind.Transient);
        StoreFailures.Classify(new InvalidOperationException("?")).Should().Be(StoreFailureKind.Unknown);
    }

    [Fact]
    public void The_dead_letter_reason_carries_the_SQLSTATE_and_message() =>
        StoreFailures.Describe(new InvalidOperationException("outer", Pg("23514"))).Should().Be("SQLSTATE 23514: refused");

    private static StoreResilience Resilience(int unknownRetries = 2) => new(Options.Create(new IngestionOptions
    {
        UnknownFailureRetries = unknownRetries,
        StoreRetryDelay = TimeSpan.FromMilliseconds(1),
        CircuitBreakDuration = TimeSpan.FromMinutes(1),
    }), NullLogger<StoreResilience>.Instance, TimeProvider.System);

    [Fact]
    public async Task A_refused_append_is_not_retried()
    {
        var calls = 0;
        var act = () => Resilience().ExecuteAsync<int>(_ => { calls++; throw Pg("22021"); }, CancellationToken.None);

        await act.Should().ThrowAsync<PostgresException>();
        calls.Should().Be(1);
    }

    [Fact]
    public async Task An_unknown_failure_is_retried_a_bounded_number_of_times()
    {
        var calls = 0;
        var act = () => Resilience(unknownRetries: 3).ExecuteAsync<int>(_ => { calls++; throw new InvalidOperationException("?"); }, CancellationToken.None);

        await act.Should().ThrowAsync<InvalidOperationException>();
        calls.Should().Be(4);
    }

    [Fact]
    public async Task A_transient_failure_is_retried_until_it_succeeds_and_is_reported_while_it_lasts()
    {
        var resilience = Resilience();
        var calls = 0;
        DateTimeOffset? retryingDuring = null;

        var result = await resilience.ExecuteAsync(_ =>
        {
            if (++calls < 4) throw new TimeoutException();
            retryingDuring = resilience.RetryingSince;
            return Task.FromResult(42);
        }, CancellationToken.None);

        result.Should().Be(42);
        calls.Should().Be(4);
        retryingDuring.Should().NotBeNull();
        resilience.RetryingSince.Should().BeNull();
    }

    [Fact]
    public async Task Repeated_transient_failures_open_the_circuit_and_shutdown_ends_the_retries()
    {
        var resilience = Resilience();
        using var shutdown = new CancellationTokenSource();
        var calls = 0;

        var act = () => resilience.ExecuteAsync<int>(_ =>
        {
            // Once open, the breaker answers without calling: the calls stop at the threshold.
            if (++calls >= 5) shutdown.Cancel();
            throw new TimeoutException();
        }, shutdown.Token);

        await act.Should().ThrowAsync<OperationCanceledException>();
        resilience.CircuitState.Should().Be(CircuitState.Open);
        resilience.RetryingSince.Should().BeNull("the retrying call has ended");
    }

    private sealed class ManualClock(DateTimeOffset now) : TimeProvider
    {
        public DateTimeOffset Now { get; set; } = now;
        public override DateTimeOffset GetUtcNow() => Now;
    }

    private static IngestionHealthCheck Check(StoreResilience store, IngestionProgress progress, TimeProvider clock) =>
        new(store, progress, Options.Create(new IngestionOptions { StallAfter = TimeSpan.FromSeconds(30) }), clock);

    [Fact]
    public async Task Readiness_is_degraded_while_consumed_messages_wait_beyond_the_stall_limit()
    {
        var clock = new ManualClock(DateTimeOffset.UnixEpoch.AddYears(56));
        var progress = new IngestionProgress(clock);
        var check = Check(Resilience(), progress, clock);

        (await check.CheckHealthAsync(new HealthCheckContext())).Status.Should().Be(HealthStatus.Healthy);
        progress.BatchConsumed(10);
        clock.Now += TimeSpan.FromSeconds(29);
        (await check.CheckHealthAsync(new HealthCheckContext())).Status.Should().Be(HealthStatus.Healthy);
        clock.Now += TimeSpan.FromSeconds(2);
        var stalled = await check.CheckHealthAsync(new HealthCheckContext());
        stalled.Status.Should().Be(HealthStatus.Degraded);
        stalled.Description.Should().Contain("10 consumed message(s) not committed");
        progress.BatchDone();
        (await check.CheckHealthAsync(new HealthCheckContext())).Status.Should().Be(HealthStatus.Healthy);
    }

    [Fact]
    public async Task Readiness_is_degraded_when_messages_wait_in_kafka_and_nothing_moves()
    {
        var clock = new ManualClock(DateTimeOffset.UnixEpoch.AddYears(56));
        var progress = new IngestionProgress(clock);
        var check = Check(Resilience(), progress, clock);

        progress.OnStatistics("""
            {"topics":{"engagement-events":{"partitions":{
              "0":{"consumer_lag":5},"1":{"consumer_lag":-1},"2":{"consumer_lag":7},"-1":{"consumer_lag":100}}}}}
            """);
        progress.TotalLag.Should().Be(12);
        (await check.CheckHealthAsync(new HealthCheckContext())).Status.Should().Be(HealthStatus.Healthy);
        clock.Now += TimeSpan.FromMinutes(1);
        (await check.CheckHealthAsync(new HealthCheckContext())).Description.Should().Contain("12 message(s) waiting");
    }

    [Fact]
    public async Task Readiness_is_degraded_while_the_store_is_retried()
    {
        var resilience = Resilience();
        var progress = new IngestionProgress(TimeProvider.System);
        var check = Check(resilience, progress, TimeProvider.System);
        HealthCheckResult? during = null;
        var calls = 0;

        await resilience.ExecuteAsync(async _ =>
        {
            if (++calls == 1) throw new TimeoutException();
            during = await check.CheckHealthAsync(new HealthCheckContext());
            return 0;
        }, CancellationToken.None);

        during!.Value.Status.Should().Be(HealthStatus.Degraded);
        during.Value.Description.Should().Contain("retrying");
        (await check.CheckHealthAsync(new HealthCheckContext())).Status.Should().Be(HealthStatus.Healthy);
    }
}
