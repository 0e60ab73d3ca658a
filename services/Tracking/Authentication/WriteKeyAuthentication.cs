using System.Net.Http.Headers;
using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;
using ScoringPlatform.Tracking.Endpoints;

namespace ScoringPlatform.Tracking.Authentication;

/// <summary>
/// The configured write keys, held only as SHA-256 digests. A presented key is hashed and compared with every source's
/// digest in constant time (no early exit), so neither the comparison nor the loop tells an attacker how close a guess was.
/// </summary>
public sealed class WriteKeys
{
    private readonly (string Source, byte[] Digest)[] _keys;

    public WriteKeys(IOptions<TrackingOptions> options)
    {
        _keys = options.Value.Sources
            .Select(s => (s.Name, s.WriteKeyHash is { Length: > 0 } hash ? Convert.FromHexString(hash) : Digest(s.WriteKey!)))
            .ToArray();
    }

    /// <summary>The source the key belongs to, or null.</summary>
    public string? SourceOf(string writeKey)
    {
        var digest = Digest(writeKey);
        string? match = null;
        foreach (var (source, expected) in _keys)
        {
            if (CryptographicOperations.FixedTimeEquals(digest, expected)) match ??= source;
        }

        return match;
    }

    public static byte[] Digest(string writeKey) => SHA256.HashData(Encoding.UTF8.GetBytes(writeKey));
}

/// <summary>
/// HTTP Basic with the write key as the user name and an empty password: what Segment's and RudderStack's client
/// libraries send. The authenticated principal's name is the source; the key itself is never logged or kept.
/// </summary>
public sealed class WriteKeyAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options,
    ILoggerFactory logger,
    UrlEncoder encoder,
    WriteKeys writeKeys) : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "WriteKey";
    public const string Realm = "tracking";

    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        if (!AuthenticationHeaderValue.TryParse(Request.Headers.Authorization, out var header)
            || !string.Equals(header.Scheme, "Basic", StringComparison.OrdinalIgnoreCase)
            || header.Parameter is not { Length: > 0 } encoded)
        {
            return Task.FromResult(AuthenticateResult.NoResult());
        }

        string credentials;
        try
        {
            credentials = Encoding.UTF8.GetString(Convert.FromBase64String(encoded));
        }
        catch (FormatException)
        {
            return Task.FromResult(AuthenticateResult.Fail("the Authorization header is not valid Basic credentials"));
        }

        // user:password; the clients send the key as the user and no password. A key containing ':' is not supported.
        var separator = credentials.IndexOf(':', StringComparison.Ordinal);
        var key = separator < 0 ? credentials : credentials[..separator];
        if (key.Length == 0) return Task.FromResult(AuthenticateResult.Fail("the write key is empty"));
        if (writeKeys.SourceOf(key) is not { } source) return Task.FromResult(AuthenticateResult.Fail("unknown write key"));

        var identity = new ClaimsIdentity([new Claim(ClaimTypes.Name, source)], SchemeName);
        return Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), SchemeName)));
    }

    protected override async Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        var result = await HandleAuthenticateOnceSafeAsync();
        var message = result.Failure is { } failure
            ? $"{failure.Message}: send the source's write key as the HTTP Basic user name with an empty password"
            : "missing write key: send the source's write key as the HTTP Basic user name with an empty password";
        TrackingMetrics.Rejected(TrackingErrors.Unauthorized);
        Response.Headers.WWWAuthenticate = $"Basic realm=\"{Realm}\"";
        await TrackingResults.Error(StatusCodes.Status401Unauthorized, TrackingErrors.Unauthorized, message).ExecuteAsync(Context);
    }
}
