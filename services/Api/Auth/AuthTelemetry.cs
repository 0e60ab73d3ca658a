using System.Diagnostics.Metrics;
using ScoringPlatform.ServiceDefaults;

namespace ScoringPlatform.Api.Auth;

/// <summary>Counts and logs refused calls; names the caller's key entry and the path, never a key.</summary>
internal static partial class AuthTelemetry
{
    private static readonly Counter<long> Failures = PlatformTelemetry.Meter.CreateCounter<long>(
        "scoring.api.auth.failures", "{request}", "Api calls refused: no key, an unknown key, or a key without the scope");

    public static void Failed(string reason, string? scope) =>
        Failures.Add(1, new KeyValuePair<string, object?>("reason", reason), new KeyValuePair<string, object?>("scope", scope ?? ""));

    /// <summary>An unknown key is a Warning (a leaked-and-revoked key or guessing); a missing one Information.</summary>
    public static void LogUnauthenticated(ILogger logger, string reason, string method, string path, string? remoteIp) =>
        LogRefused(logger, reason == "invalid_key" ? LogLevel.Warning : LogLevel.Information, reason, method, path, remoteIp);

    [LoggerMessage(Message = "Auth: refused {Method} {Path} from {RemoteIp}: {Reason}")]
    private static partial void LogRefused(ILogger logger, LogLevel level, string reason, string method, string path, string? remoteIp);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Auth: key '{Caller}' lacks scope {Scope} for {Method} {Path}")]
    public static partial void LogForbidden(ILogger logger, string caller, string scope, string method, string path);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Auth is OFF ({Why}): every caller has every scope. Configure Auth:ApiKeys before exposing this Api.")]
    public static partial void LogOpen(ILogger logger, string why);

    [LoggerMessage(Level = LogLevel.Information, Message = "Auth: {Count} API key(s) loaded: {Names}")]
    public static partial void LogKeys(ILogger logger, int count, string names);
}
