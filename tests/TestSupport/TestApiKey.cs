using System.Net.Http.Headers;

namespace ScoringPlatform.TestSupport;

/// <summary>
/// The API key every test fixture configures on the Api (all scopes, a rate limit no test reaches) and sends on every
/// call, through one handler under both the gRPC channel and the REST client. Tests about auth configure their own.
/// </summary>
public static class TestApiKey
{
    public const string Name = "tests";
    public const string Key = "test-key-5d1c0f3e9a7b4c2d8e6f";

    /// <summary>The settings, keyed with <paramref name="separator"/>: ":" for in-process hosts, "__" for environment variables.</summary>
    public static IReadOnlyDictionary<string, string> Settings(string separator = "__") => new Dictionary<string, string>
    {
        [string.Join(separator, "Auth", "ApiKeys", "0", "Name")] = Name,
        [string.Join(separator, "Auth", "ApiKeys", "0", "Key")] = Key,
        [string.Join(separator, "Auth", "ApiKeys", "0", "Scopes", "0")] = "*",
        [string.Join(separator, "RateLimiting", "Callers", Name, "PermitsPerSecond")] = "10000000",
        [string.Join(separator, "RateLimiting", "Callers", Name, "Burst")] = "10000000",
    };

    /// <summary>Sends <paramref name="key"/> as <c>Authorization: Bearer</c> on every request that carries no credentials yet.</summary>
    public static DelegatingHandler Handler(HttpMessageHandler inner, string key = Key) => new BearerKeyHandler(key) { InnerHandler = inner };

    private sealed class BearerKeyHandler(string key) : DelegatingHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            request.Headers.Authorization ??= new AuthenticationHeaderValue("Bearer", key);
            return base.SendAsync(request, cancellationToken);
        }
    }
}
