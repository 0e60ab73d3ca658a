namespace ScoringPlatform.ServiceDefaults.RateLimiting;

/// <summary>
/// A token bucket per authenticated caller (<c>HttpContext.User.Identity.Name</c>, whatever scheme authenticated it):
/// <see cref="PermitsPerSecond"/> refill, <see cref="Burst"/> tokens at most. Defaults are generous on purpose: the
/// limit protects the service from one runaway client, it is not a quota. <see cref="Callers"/> overrides them for a
/// caller by name (a bench key higher, a partner lower).
/// </summary>
public sealed class PerCallerRateLimitOptions
{
    public bool Enabled { get; set; } = true;

    public double PermitsPerSecond { get; set; } = 1000;

    public int Burst { get; set; } = 2000;

    /// <summary>Per caller name (case-insensitive): its own permits/s and burst (either may be left out).</summary>
    public Dictionary<string, CallerRateLimit> Callers { get; set; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>
    /// Unauthenticated requests (health probes, Swagger; the others are refused before the limiter) are not limited
    /// unless this is set; then each remote IP address gets this bucket (for a public endpoint without keys).
    /// </summary>
    public CallerRateLimit? Anonymous { get; set; }

    /// <summary>Why these settings cannot work, or null.</summary>
    public string? Problem()
    {
        var limits = Callers.Select(c => ($"Callers:{c.Key}", c.Value)).Append(("", new CallerRateLimit { PermitsPerSecond = PermitsPerSecond, Burst = Burst }));
        if (Anonymous is not null) limits = limits.Append(("Anonymous", Anonymous));
        foreach (var (where, limit) in limits)
        {
            if (limit.PermitsPerSecond is <= 0 or > 100_000_000 or double.NaN) return $"{where}:PermitsPerSecond must be > 0 (got {limit.PermitsPerSecond})";
            if (limit.Burst is < 1) return $"{where}:Burst must be at least 1 (got {limit.Burst})";
        }

        return null;
    }

    public CallerRateLimit For(string caller) =>
        Callers.TryGetValue(caller, out var own)
            ? new CallerRateLimit { PermitsPerSecond = own.PermitsPerSecond ?? PermitsPerSecond, Burst = own.Burst ?? Burst }
            : new CallerRateLimit { PermitsPerSecond = PermitsPerSecond, Burst = Burst };
}

/// <summary>One bucket's refill rate and size; null takes the default.</summary>
public sealed class CallerRateLimit
{
    public double? PermitsPerSecond { get; set; }

    public int? Burst { get; set; }
}
