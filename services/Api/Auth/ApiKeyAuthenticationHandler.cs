using System.Security.Claims;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;

namespace ScoringPlatform.Api.Auth;

/// <summary>
/// Authenticates a caller by the API key in <c>Authorization: Bearer &lt;key&gt;</c> (or <c>x-api-key</c>): the
/// principal is named after the key's entry and carries its scopes as <c>scope</c> claims. No key is "no result"
/// (endpoints that allow anonymous callers still answer); a wrong key is a failure. The challenge answers in the
/// caller's protocol: gRPC UNAUTHENTICATED (trailers-only), REST 401 problem JSON; both with
/// <c>WWW-Authenticate: Bearer</c>.
/// </summary>
public sealed class ApiKeyAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder, ApiKeyAuthentication keys)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "ApiKey";
    public const string ApiKeyHeader = "x-api-key";

    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        if (keys.Store is not { } store)
        {
            // Auth is off (Auth:Disabled, or Development without keys): every caller is the one open caller.
            return Task.FromResult(Success(ApiKeyAuthentication.OpenCaller, [ApiScopes.All]));
        }

        var presented = PresentedKey(Request);
        if (presented is null) return Task.FromResult(AuthenticateResult.NoResult());
        return Task.FromResult(store.Find(presented) is { } key
            ? Success(key.Name, key.Scopes)
            : AuthenticateResult.Fail("invalid API key"));
    }

    protected override async Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        var result = await HandleAuthenticateOnceSafeAsync();
        var invalid = result.Failure is not null;
        var reason = invalid ? "invalid_key" : "missing_key";
        AuthTelemetry.Failed(reason, scope: null);
        AuthTelemetry.LogUnauthenticated(Logger, reason, Request.Method, Request.Path, Context.Connection.RemoteIpAddress?.ToString());

        Response.Headers.WWWAuthenticate = invalid ? "Bearer error=\"invalid_token\", error_description=\"the API key is not known\"" : "Bearer";
        var message = invalid
            ? "the API key is not known (send Authorization: Bearer <key> or x-api-key: <key>)"
            : "an API key is required: send Authorization: Bearer <key> (or x-api-key: <key>)";
        await AuthResponses.WriteAsync(Context, StatusCodes.Status401Unauthorized, "Unauthorized", message);
    }

    protected override Task HandleForbiddenAsync(AuthenticationProperties properties) =>
        AuthResponses.WriteAsync(Context, StatusCodes.Status403Forbidden, "Forbidden", "the API key does not grant this operation");

    /// <summary>The key from <c>Authorization: Bearer</c>, else <c>x-api-key</c>; null when neither carries one.</summary>
    internal static string? PresentedKey(HttpRequest request)
    {
        var authorization = request.Headers.Authorization.ToString();
        if (authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) && authorization["Bearer ".Length..].Trim() is { Length: > 0 } bearer)
        {
            return bearer;
        }

        return request.Headers[ApiKeyHeader].ToString().Trim() is { Length: > 0 } header ? header : null;
    }

    private AuthenticateResult Success(string name, IEnumerable<string> scopes)
    {
        var identity = new ClaimsIdentity(
            [new Claim(ClaimTypes.Name, name), .. scopes.Select(s => new Claim(ApiScopes.ClaimType, s))],
            SchemeName, ClaimTypes.Name, ClaimTypes.Role);
        return AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), SchemeName));
    }
}
