using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace ScoringPlatform.Tracking;

/// <summary>
/// Settings of the tracking endpoint (section <c>Tracking</c>). The limits default to what Segment documents for its
/// HTTP Tracking API, so a client library that respects Segment's limits never meets a different one here.
/// </summary>
public sealed class TrackingOptions
{
    public const string Section = "Tracking";

    /// <summary>The sources allowed to send, each with its write key (or the key's SHA-256); at least one.</summary>
    public List<TrackingSource> Sources { get; set; } = [];

    /// <summary>Largest single message, in bytes (Segment: 32 KB per call, and per message inside a batch).</summary>
    [Range(1024, 1024 * 1024)]
    public int MaxMessageBytes { get; set; } = 32 * 1024;

    /// <summary>Largest <c>/v1/batch</c> request body, in bytes (Segment: 500 KB).</summary>
    [Range(1024, 16 * 1024 * 1024)]
    public int MaxBatchBytes { get; set; } = 500 * 1024;

    /// <summary>
    /// How long a request waits for the broker to acknowledge its events (librdkafka <c>message.timeout.ms</c>). Past it
    /// the request answers 503, so a broker outage never holds a client's connection open; keep it below the clients'
    /// own request timeout (analytics-node: 10 s).
    /// </summary>
    public TimeSpan DeliveryTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>The <c>Retry-After</c> a 503 carries (seconds).</summary>
    [Range(1, 3600)]
    public int UnavailableRetryAfterSeconds { get; set; } = 5;

    public TrackingRateLimitOptions RateLimit { get; set; } = new();
}

/// <summary>A sending source: its name becomes the events' <c>source</c>; callers prove it with the write key.</summary>
public sealed class TrackingSource
{
    /// <summary>e.g. <c>website</c>; becomes the envelope's <c>source</c> and the rate-limit partition.</summary>
    public string Name { get; set; } = "";

    /// <summary>The write key in clear (development). Prefer <see cref="WriteKeyHash"/> in deployments.</summary>
    public string? WriteKey { get; set; }

    /// <summary>Hex SHA-256 of the UTF-8 write key (<c>printf %s "$key" | sha256sum</c>): the secret never sits in configuration.</summary>
    public string? WriteKeyHash { get; set; }
}

/// <summary>Per write key token bucket: a burst of <see cref="TokenLimit"/> requests, refilled by <see cref="TokensPerPeriod"/> each <see cref="ReplenishmentPeriod"/>.</summary>
public sealed class TrackingRateLimitOptions
{
    [Range(1, int.MaxValue)]
    public int TokenLimit { get; set; } = 1000;

    [Range(1, int.MaxValue)]
    public int TokensPerPeriod { get; set; } = 200;

    public TimeSpan ReplenishmentPeriod { get; set; } = TimeSpan.FromSeconds(1);
}

/// <summary>Checks what data annotations cannot: the sources and their keys.</summary>
internal sealed class TrackingOptionsValidator : IValidateOptions<TrackingOptions>
{
    public ValidateOptionsResult Validate(string? name, TrackingOptions options)
    {
        var errors = new List<string>();
        if (options.Sources.Count == 0)
        {
            errors.Add("Tracking:Sources is empty: configure at least one source with a write key, e.g. " +
                "Tracking__Sources__0__Name=website and Tracking__Sources__0__WriteKeyHash=<hex SHA-256 of the key>.");
        }

        for (var i = 0; i < options.Sources.Count; i++)
        {
            var source = options.Sources[i];
            if (string.IsNullOrWhiteSpace(source.Name) || source.Name.Length > 200)
                errors.Add($"Tracking:Sources:{i}:Name must be 1-200 characters (it becomes the events' source).");
            var hasKey = !string.IsNullOrEmpty(source.WriteKey);
            var hasHash = !string.IsNullOrEmpty(source.WriteKeyHash);
            if (hasKey == hasHash)
                errors.Add($"Tracking:Sources:{i} ({source.Name}) needs exactly one of WriteKey or WriteKeyHash.");
            if (hasHash && (source.WriteKeyHash!.Length != 64 || !source.WriteKeyHash.All(Uri.IsHexDigit)))
                errors.Add($"Tracking:Sources:{i}:WriteKeyHash must be 64 hex digits (SHA-256 of the UTF-8 write key).");
        }

        foreach (var duplicate in options.Sources.GroupBy(s => s.Name, StringComparer.Ordinal).Where(g => g.Count() > 1))
            errors.Add($"Tracking:Sources names must be unique; '{duplicate.Key}' appears {duplicate.Count()} times.");
        if (options.DeliveryTimeout < TimeSpan.FromMilliseconds(100) || options.DeliveryTimeout > TimeSpan.FromMinutes(5))
            errors.Add("Tracking:DeliveryTimeout must be between 00:00:00.1 and 00:05:00.");
        if (options.RateLimit.ReplenishmentPeriod <= TimeSpan.Zero)
            errors.Add("Tracking:RateLimit:ReplenishmentPeriod must be positive.");
        if (options.MaxMessageBytes > options.MaxBatchBytes)
            errors.Add("Tracking:MaxMessageBytes must not exceed Tracking:MaxBatchBytes.");
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
