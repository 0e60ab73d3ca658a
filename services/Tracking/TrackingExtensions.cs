using System.Globalization;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Options;
using ScoringPlatform.Messaging;
using ScoringPlatform.ServiceDefaults;
using ScoringPlatform.Tracking.Authentication;
using ScoringPlatform.Tracking.Endpoints;
using ScoringPlatform.Tracking.Mapping;
using ScoringPlatform.Tracking.Producing;

namespace ScoringPlatform.Tracking;

public static class TrackingExtensions
{
    public const string WriteKeyPolicy = "write-key";
    public const string RateLimitPolicy = "per-write-key";

    /// <summary>
    /// Write-key authentication, the per-key rate limiter, the producer and Kafka readiness. The service never touches
    /// the event store: Kafka is its only dependency.
    /// </summary>
    public static WebApplicationBuilder AddTracking(this WebApplicationBuilder builder)
    {
        builder.Services.AddOptions<TrackingOptions>()
            .BindConfiguration(TrackingOptions.Section)
            .ValidateDataAnnotations()
            .ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<TrackingOptions>, TrackingOptionsValidator>();
        builder.Services.AddPlatformClock(builder.Configuration);
        builder.AddKafka();

        builder.Services.AddSingleton<WriteKeys>();
        builder.Services.AddAuthentication(WriteKeyAuthenticationHandler.SchemeName)
            .AddScheme<AuthenticationSchemeOptions, WriteKeyAuthenticationHandler>(WriteKeyAuthenticationHandler.SchemeName, null);
        builder.Services.AddAuthorizationBuilder()
            .AddPolicy(WriteKeyPolicy, p => p.AddAuthenticationSchemes(WriteKeyAuthenticationHandler.SchemeName).RequireAuthenticatedUser());
        builder.Services.AddRateLimiter(ConfigureRateLimiter);

        // Backstop for any endpoint; the tracking endpoints lower it per call (32 KB for a single message).
        builder.Services.Configure<KestrelServerOptions>(o => o.Limits.MaxRequestBodySize = builder.Configuration
            .GetSection(TrackingOptions.Section).GetValue(nameof(TrackingOptions.MaxBatchBytes), new TrackingOptions().MaxBatchBytes));

        builder.Services.AddSingleton<EngagementProducer>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<EngagementProducer>());
        builder.Services.AddSingleton<TrackingHandler>();
        return builder;
    }

    /// <summary>
    /// <c>POST /v1/{track,page,screen,identify,alias,group,batch}</c> (and <c>/v1/import</c>, Segment's older name for
    /// batch), each behind the write key and its rate limit.
    /// </summary>
    public static WebApplication MapTracking(this WebApplication app)
    {
        app.UseAuthentication();
        app.UseAuthorization();
        app.UseRateLimiter();

        var v1 = app.MapGroup("/v1").RequireAuthorization(WriteKeyPolicy).RequireRateLimiting(RateLimitPolicy);
        foreach (var call in SegmentMapper.Calls)
        {
            v1.MapPost("/" + call, (HttpContext http, TrackingHandler handler) => handler.HandleAsync(http, call));
        }

        v1.MapPost("/batch", (HttpContext http, TrackingHandler handler) => handler.HandleAsync(http, TrackingHandler.Batch));
        v1.MapPost("/import", (HttpContext http, TrackingHandler handler) => handler.HandleAsync(http, TrackingHandler.Batch));
        return app;
    }

    /// <summary>A token bucket per source (the authenticated write key's name); a refusal is 429 with Retry-After.</summary>
    private static void ConfigureRateLimiter(RateLimiterOptions options)
    {
        options.AddPolicy(RateLimitPolicy, http =>
        {
            var limits = http.RequestServices.GetRequiredService<IOptions<TrackingOptions>>().Value.RateLimit;
            return RateLimitPartition.GetTokenBucketLimiter(http.User.Identity?.Name ?? "", _ => new TokenBucketRateLimiterOptions
            {
                TokenLimit = limits.TokenLimit,
                TokensPerPeriod = limits.TokensPerPeriod,
                ReplenishmentPeriod = limits.ReplenishmentPeriod,
                QueueLimit = 0,
                AutoReplenishment = true,
            });
        });
        options.OnRejected = async (context, cancellationToken) =>
        {
            var retryAfter = context.Lease.TryGetMetadata(MetadataName.RetryAfter, out var wait) ? wait : TimeSpan.FromSeconds(1);
            var seconds = Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds));
            context.HttpContext.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
            TrackingMetrics.Rejected(TrackingErrors.RateLimited);
            await TrackingResults.Error(StatusCodes.Status429TooManyRequests, TrackingErrors.RateLimited,
                $"too many requests for this write key; retry after {seconds} s").ExecuteAsync(context.HttpContext);
        };
    }
}
