namespace ScoringPlatform.Api.Auth;

/// <summary>
/// The <c>Auth</c> section: the API keys callers present and which endpoints stay open without one. With no keys the
/// Api runs open only in Development or when <see cref="Disabled"/> says so explicitly; elsewhere it refuses to start.
/// </summary>
public sealed class ApiAuthOptions
{
    public const string Section = "Auth";

    /// <summary>Runs without authentication (every caller has every scope). Must be said explicitly outside Development.</summary>
    public bool Disabled { get; set; }

    public List<ApiKeyOptions> ApiKeys { get; set; } = [];

    /// <summary>/health/live, /health/ready and grpc.health.v1 without a key (orchestrator probes carry none).</summary>
    public bool AnonymousHealth { get; set; } = true;

    /// <summary>The Swagger UI and the OpenAPI document without a key (the document describes the API, no data).</summary>
    public bool AnonymousSwagger { get; set; } = true;

    /// <summary>gRPC server reflection without a key; when unset, open in Development only (it lists every method).</summary>
    public bool? AnonymousReflection { get; set; }
}

/// <summary>
/// One caller's key: a name (the identity: logs, metrics and the rate limit partition use it, never the key), either
/// the key itself (<see cref="Key"/>, for development) or its SHA-256 (<see cref="KeyHash"/>: 64 hex digits, optionally
/// prefixed <c>sha256:</c>; <c>printf %s "$KEY" | sha256sum</c>), and its scopes.
/// </summary>
public sealed class ApiKeyOptions
{
    public string Name { get; set; } = "";
    public string? Key { get; set; }
    public string? KeyHash { get; set; }
    public List<string> Scopes { get; set; } = [];
}
