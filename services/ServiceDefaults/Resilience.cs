using Microsoft.Extensions.Logging;
using Polly;
using Polly.Retry;

namespace ScoringPlatform.ServiceDefaults;

/// <summary>Shared Polly pipelines.</summary>
public static class Resilience
{
    /// <summary>
    /// Retries until it succeeds or the caller cancels, backing off to 10 s: for work that must not be skipped
    /// (a publish before the outbox row is marked, a service's start while PostgreSQL is still coming up).
    /// </summary>
    public static ResiliencePipeline RetryUntilCancelled(Func<Exception, bool> handles, Action<int, Exception?> onRetry) =>
        new ResiliencePipelineBuilder()
            .AddRetry(new RetryStrategyOptions
            {
                MaxRetryAttempts = int.MaxValue,
                Delay = TimeSpan.FromMilliseconds(200),
                BackoffType = DelayBackoffType.Exponential,
                MaxDelay = TimeSpan.FromSeconds(10),
                UseJitter = true,
                ShouldHandle = new PredicateBuilder().Handle<Exception>(ex => ex is not OperationCanceledException && handles(ex)),
                OnRetry = args =>
                {
                    onRetry(args.AttemptNumber + 1, args.Outcome.Exception);
                    return ValueTask.CompletedTask;
                },
            })
            .Build();
}
