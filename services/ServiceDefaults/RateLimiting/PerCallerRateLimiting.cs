using System.Diagnostics.Metrics;
using System.Globalization;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ScoringPlatform.ServiceDefaults.RateLimiting;

/// <summary>
/// ASP.NET Core's rate limiter as one global token bucket per caller: the partition is the authenticated identity's
/// name, so any authentication scheme a service uses (API keys here) gives each caller its own bucket, and the
/// rejection speaks the caller's protocol: REST 429 problem JSON with <c>Retry-After</c> (seconds); gRPC
/// RESOURCE_EXHAUSTED (trailers-only) with a <c>retry-after</c> trailer. Call <see cref="UsePerCallerRateLimiting"/>
/// after UseAuthentication/UseAuthorization, so the caller is known and unauthenticated calls never take a token.
/// </summary>
public static partial class PerCallerRateLimiting
{
    private static readonly Counter<long> Rejections = PlatformTelemetry.Meter.CreateCounter<long>(
        "scoring.rate_limit.rejections", "{request}", "Requests refused by the per-caller rate limit");

    /// <summary>Binds <paramref name="section"/> (e.g. <c>RateLimiting</c>) to <see cref="PerCallerRateLimitOptions"/>, validated on start.</summary>
    public static IServiceCollection AddPerCallerRateLimiting(this IServiceCollection services, IConfiguration section)
    {
        services.AddOptions<PerCallerRateLimitOptions>()
            .Bind(section)
            .ValidateOnStart();
        var path = (section as IConfigurationSection)?.Path ?? "RateLimiting";
        services.AddSingleton<IValidateOptions<PerCallerRateLimitOptions>>(new Validation(path));
        services.AddRateLimiter(_ => { });
        services.AddOptions<RateLimiterOptions>().Configure<IOptions<PerCallerRateLimitOptions>>((limiter, perCaller) =>
        {
            var settings = perCaller.Value;
            limiter.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            limiter.OnRejected = OnRejectedAsync;
            if (!settings.Enabled) return;
            limiter.GlobalLimiter = PartitionedRateLimiter.Create<HttpContext, string>(context =>
            {
                if (CallerOf(context) is { } caller)
                {
                    return RateLimitPartition.GetTokenBucketLimiter("caller:" + caller, _ => Bucket(settings.For(caller)));
                }

                return settings.Anonymous is { } anonymous
                    ? RateLimitPartition.GetTokenBucketLimiter("ip:" + context.Connection.RemoteIpAddress, _ => Bucket(new CallerRateLimit
                    {
                        PermitsPerSecond = anonymous.PermitsPerSecond ?? settings.PermitsPerSecond,
                        Burst = anonymous.Burst ?? settings.Burst,
                    }))
                    : RateLimitPartition.GetNoLimiter("anonymous");
            });
        });
        return services;
    }

    public static IApplicationBuilder UsePerCallerRateLimiting(this IApplicationBuilder app) => app.UseRateLimiter();

    private static string? CallerOf(HttpContext context) =>
        context.User.Identity is { IsAuthenticated: true, Name: { Length: > 0 } name } ? name : null;

    /// <summary>
    /// A bucket refilled in steps of about a tenth of a second (one token per step for slow rates), so a caller that
    /// drained its burst gets permits back smoothly rather than once a second.
    /// </summary>
    public static TokenBucketRateLimiterOptions Bucket(CallerRateLimit limit)
    {
        var perSecond = limit.PermitsPerSecond!.Value;
        var tokens = Math.Max(1, (int)Math.Round(perSecond / 10));
        return new TokenBucketRateLimiterOptions
        {
            TokenLimit = limit.Burst!.Value,
            TokensPerPeriod = tokens,
            ReplenishmentPeriod = TimeSpan.FromSeconds(tokens / perSecond),
            QueueLimit = 0,
            AutoReplenishment = true,
        };
    }

    private static async ValueTask OnRejectedAsync(OnRejectedContext rejected, CancellationToken cancellationToken)
    {
        var context = rejected.HttpContext;
        var retryAfter = rejected.Lease.TryGetMetadata(MetadataName.RetryAfter, out var wait) ? wait : TimeSpan.FromSeconds(1);
        var seconds = Math.Max(1, (long)Math.Ceiling(retryAfter.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
        var caller = CallerOf(context) ?? "anonymous";
        var grpc = GrpcTrailersOnly.IsGrpcRequest(context.Request);
        Rejections.Add(1, new KeyValuePair<string, object?>("caller", caller), new KeyValuePair<string, object?>("protocol", grpc ? "grpc" : "http"));
        if (LogWindow.For(caller).ShouldLog(Environment.TickCount64, out var suppressed))
        {
            LogRejected(context.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(PerCallerRateLimiting).FullName!),
                caller, context.Request.Path, seconds, suppressed);
        }

        var message = $"rate limit exceeded for caller '{caller}'; retry after {seconds} s";
        context.Response.Headers.RetryAfter = seconds;
        if (grpc)
        {
            await GrpcTrailersOnly.WriteAsync(context, GrpcTrailersOnly.ResourceExhausted, message);
            return;
        }

        context.Response.StatusCode = StatusCodes.Status429TooManyRequests;
        await Results.Problem(
            detail: message,
            instance: context.Request.Path,
            statusCode: StatusCodes.Status429TooManyRequests,
            title: "Too many requests",
            type: "https://httpstatuses.io/429",
            extensions: new Dictionary<string, object?> { ["retryAfterSeconds"] = long.Parse(seconds, CultureInfo.InvariantCulture) })
            .ExecuteAsync(context);
    }

    private sealed class Validation(string path) : IValidateOptions<PerCallerRateLimitOptions>
    {
        public ValidateOptionsResult Validate(string? name, PerCallerRateLimitOptions options) =>
            options.Problem() is { } problem ? ValidateOptionsResult.Fail($"{path}: {problem}") : ValidateOptionsResult.Success;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Rate limit: refused {Caller} on {Path}; retry after {RetryAfterSeconds} s ({Suppressed} more refusals of this caller not logged since the last line)")]
    private static partial void LogRejected(ILogger logger, string caller, string path, string retryAfterSeconds, long suppressed);

    /// <summary>
    /// At most one log line per caller per 10 s: a client hammering past its limit would otherwise write a line per
    /// refused request (the counter has every one).
    /// </summary>
    private sealed class LogWindow
    {
        private const long WindowMs = 10_000;
        private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, LogWindow> ByCaller = new(StringComparer.OrdinalIgnoreCase);
        private long _loggedAt = long.MinValue;
        private readonly Lock _gate = new();
        private long _suppressed;

        public static LogWindow For(string caller) => ByCaller.GetOrAdd(caller, _ => new LogWindow());

        public bool ShouldLog(long nowMs, out long suppressed)
        {
            lock (_gate)
            {
                if (_loggedAt != long.MinValue && nowMs - _loggedAt < WindowMs)
                {
                    _suppressed++;
                    suppressed = 0;
                    return false;
                }

                _loggedAt = nowMs;
                suppressed = _suppressed;
                _suppressed = 0;
                return true;
            }
        }
    }
}
