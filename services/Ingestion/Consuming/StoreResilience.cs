using System.Diagnostics.Metrics;
using Microsoft.Extensions.Options;
using Polly;
using Polly.CircuitBreaker;
using Polly.Retry;
using ScoringPlatform.ServiceDefaults;

namespace ScoringPlatform.Ingestion.Consuming;

/// <summary>
/// The retry and circuit breaker around every event-store append. Transient failures are retried with
/// exponential backoff and jitter until they succeed or shutdown cancels; the breaker stops hammering a store
/// that is down. Data the store refuses is not retried (the appender isolates it); an unknown failure gets
/// <see cref="IngestionOptions.UnknownFailureRetries"/> tries, then counts as refused so it cannot stall the
/// partition for ever. Its state feeds the readiness check and the metrics.
/// </summary>
public sealed partial class StoreResilience
{
    private static readonly Counter<long> Retries = PlatformTelemetry.Meter.CreateCounter<long>(
        "scoring.ingestion.store.retries", "{retry}", "Event-store appends retried after a failure");

    private static readonly ResiliencePropertyKey<bool> Retrying = new("ingestion.store.retrying");

    private readonly CircuitBreakerStateProvider _circuit = new();
    private readonly ILogger<StoreResilience> _logger;
    private int _retryingCalls;
    private long _retryingSinceTicks;

    public StoreResilience(IOptions<IngestionOptions> options, ILogger<StoreResilience> logger, TimeProvider clock)
    {
        _logger = logger;
        var unknownRetries = options.Value.UnknownFailureRetries;
        Pipeline = new ResiliencePipelineBuilder { TimeProvider = clock }
            .AddRetry(new RetryStrategyOptions
            {
                MaxRetryAttempts = int.MaxValue,
                Delay = options.Value.StoreRetryDelay,
                BackoffType = DelayBackoffType.Exponential,
                MaxDelay = TimeSpan.FromSeconds(10),
                UseJitter = true,
                ShouldHandle = args => ValueTask.FromResult(args.Outcome.Exception is { } ex and not OperationCanceledException
                    && StoreFailures.Classify(ex) switch
                    {
                        StoreFailureKind.Transient => true,
                        StoreFailureKind.Unknown => args.AttemptNumber < unknownRetries,
                        _ => false,
                    }),
                OnRetry = args =>
                {
                    if (!args.Context.Properties.GetValue(Retrying, false))
                    {
                        args.Context.Properties.Set(Retrying, true);
                        if (Interlocked.Increment(ref _retryingCalls) == 1) Interlocked.Exchange(ref _retryingSinceTicks, clock.GetUtcNow().UtcTicks);
                    }

                    Retries.Add(1);
                    LogRetry(_logger, args.AttemptNumber + 1, args.RetryDelay, args.Outcome.Exception);
                    return ValueTask.CompletedTask;
                },
            })
            .AddCircuitBreaker(new CircuitBreakerStrategyOptions
            {
                FailureRatio = 0.5,
                MinimumThroughput = 5,
                SamplingDuration = TimeSpan.FromSeconds(30),
                BreakDuration = options.Value.CircuitBreakDuration,
                StateProvider = _circuit,
                ShouldHandle = args => ValueTask.FromResult(
                    args.Outcome.Exception is { } ex && StoreFailures.Classify(ex) == StoreFailureKind.Transient),
                OnOpened = args =>
                {
                    LogCircuitOpened(_logger, args.BreakDuration, args.Outcome.Exception);
                    return ValueTask.CompletedTask;
                },
                OnClosed = _ =>
                {
                    LogCircuitClosed(_logger);
                    return ValueTask.CompletedTask;
                },
            })
            .Build();
        PlatformTelemetry.Meter.CreateObservableGauge("scoring.ingestion.store.circuit_state", () => (int)_circuit.CircuitState,
            "{state}", "Event-store circuit: 0 closed, 1 open, 2 half-open, 3 isolated");
    }

    public ResiliencePipeline Pipeline { get; }

    public CircuitState CircuitState => _circuit.CircuitState;

    /// <summary>Appends are failing now: some are being retried, or the circuit is not closed.</summary>
    public bool IsFailing => RetryingSince is not null || CircuitState != CircuitState.Closed;

    /// <summary>Since when appends have been failing and retrying without a success in between, or null.</summary>
    public DateTimeOffset? RetryingSince =>
        Volatile.Read(ref _retryingCalls) > 0 && Interlocked.Read(ref _retryingSinceTicks) is var ticks and > 0
            ? new DateTimeOffset(ticks, TimeSpan.Zero)
            : null;

    /// <summary>Runs one store call through the pipeline; its retry state is cleared once it returns or gives up.</summary>
    public async Task<T> ExecuteAsync<T>(Func<CancellationToken, Task<T>> append, CancellationToken ct)
    {
        var context = ResilienceContextPool.Shared.Get(ct);
        try
        {
            return await Pipeline.ExecuteAsync(static async (ctx, call) => await call(ctx.CancellationToken), context, append);
        }
        finally
        {
            if (context.Properties.GetValue(Retrying, false) && Interlocked.Decrement(ref _retryingCalls) == 0)
            {
                Interlocked.Exchange(ref _retryingSinceTicks, 0);
            }

            ResilienceContextPool.Shared.Return(context);
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Event store append failed (attempt {Attempt}); retrying in {Delay}, offsets not committed")]
    private static partial void LogRetry(ILogger logger, int attempt, TimeSpan delay, Exception? exception);

    [LoggerMessage(Level = LogLevel.Error, Message = "Event store circuit opened for {BreakDuration} after repeated failures")]
    private static partial void LogCircuitOpened(ILogger logger, TimeSpan breakDuration, Exception? exception);

    [LoggerMessage(Level = LogLevel.Information, Message = "Event store circuit closed; appends flow again")]
    private static partial void LogCircuitClosed(ILogger logger);
}
