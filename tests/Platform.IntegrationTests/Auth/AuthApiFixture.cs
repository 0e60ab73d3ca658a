using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Security.Cryptography;
using System.Text;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using ScoringPlatform.TestSupport;

namespace ScoringPlatform.Platform.IntegrationTests.Auth;

/// <summary>
/// The Api on real sockets (Kestrel: gRPC over h2c, REST over HTTP/1.1) in the Production environment with three keys:
/// an operator key (every scope), a read-only key configured by its SHA-256 only, and a key with a tiny rate limit
/// (a burst of <see cref="TinyBurst"/>, refilled once in 1,000 s, so the bucket stays empty for the whole test).
/// Request limits are lowered to <see cref="BodyLimit"/> bytes so over-limit calls stay small.
/// </summary>
public sealed class AuthApiFixture : WebApplicationFactory<Api.Verdicts.LeadScoringService>, IAsyncLifetime
{
    public const string OperatorKey = "operator-key-7f3a9c1e5b2d4f60";
    public const string ReaderKey = "reader-key-2b8e4d6f0a1c3e5f";
    public const string TinyKey = "tiny-key-9d7b5f3e1c0a2e4f";
    public const int TinyBurst = 3;
    public const int BodyLimit = 64 * 1024;

    private readonly ConcurrentBag<IDisposable> _clients = [];

    public string Schema { get; } = TestEnvironment.UniqueSchema("itauth");
    public int RestPort { get; } = TestEnvironment.FreePort();
    public int GrpcPort { get; } = TestEnvironment.FreePort();

    public static string Sha256Hex(string key) => Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(key))).ToLowerInvariant();

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment("Production");
        builder.UseSetting("ConnectionStrings:EventStore", TestEnvironment.PostgresConnectionString);
        builder.UseSetting("EventStore:Schema", Schema);
        builder.UseSetting("Kestrel:Endpoints:Rest:Url", $"http://127.0.0.1:{RestPort}");
        builder.UseSetting("Kestrel:Endpoints:Grpc:Url", $"http://127.0.0.1:{GrpcPort}");
        builder.UseSetting("Auth:ApiKeys:0:Name", "operator");
        builder.UseSetting("Auth:ApiKeys:0:Key", OperatorKey);
        builder.UseSetting("Auth:ApiKeys:0:Scopes:0", "*");
        builder.UseSetting("Auth:ApiKeys:1:Name", "reader");
        builder.UseSetting("Auth:ApiKeys:1:KeyHash", "sha256:" + Sha256Hex(ReaderKey));
        builder.UseSetting("Auth:ApiKeys:1:Scopes:0", "verdicts:read");
        builder.UseSetting("Auth:ApiKeys:1:Scopes:1", "leads:read");
        builder.UseSetting("Auth:ApiKeys:2:Name", "tiny");
        builder.UseSetting("Auth:ApiKeys:2:Key", TinyKey);
        builder.UseSetting("Auth:ApiKeys:2:Scopes:0", "admin");
        builder.UseSetting("RateLimiting:Callers:tiny:Burst", TinyBurst.ToString(System.Globalization.CultureInfo.InvariantCulture));
        builder.UseSetting("RateLimiting:Callers:tiny:PermitsPerSecond", "0.001");
        builder.UseSetting("RequestLimits:MaxRequestBodyBytes", BodyLimit.ToString(System.Globalization.CultureInfo.InvariantCulture));
        builder.UseSetting("RequestLimits:MaxGrpcMessageBytes", BodyLimit.ToString(System.Globalization.CultureInfo.InvariantCulture));
    }

    public async Task InitializeAsync()
    {
        UseKestrel();
        StartServer();
        // Not ready until its verdict cache has loaded: the tests (e.g. readiness and gRPC health) mean the ready Api.
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{RestPort}") };
        await Eventually.Ready(http, TimeSpan.FromSeconds(60));
    }

    /// <summary>A gRPC channel over a real HTTP/2 socket sending <paramref name="key"/> as a bearer token (none when null).</summary>
    public GrpcChannel Grpc(string? key)
    {
        var channel = GrpcChannel.ForAddress($"http://127.0.0.1:{GrpcPort}", new GrpcChannelOptions
        {
            HttpHandler = key is null ? new SocketsHttpHandler() : TestApiKey.Handler(new SocketsHttpHandler(), key),
            MaxSendMessageSize = null,
        });
        _clients.Add(channel);
        return channel;
    }

    /// <summary>An HTTP/1.1 client of the REST port; sends no credentials of its own.</summary>
    public HttpClient Rest()
    {
        var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{RestPort}") };
        _clients.Add(client);
        return client;
    }

    async Task IAsyncLifetime.DisposeAsync()
    {
        foreach (var client in _clients) client.Dispose();
        await base.DisposeAsync();
        await TestEnvironment.DropSchemaAsync(Schema);
    }
}

/// <summary>Sums a platform counter's measurements by one tag's value while it is alive.</summary>
public sealed class CounterProbe : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly ConcurrentDictionary<string, long> _byTag = new();

    public CounterProbe(string instrument, string tag)
    {
        _listener.InstrumentPublished = (i, l) =>
        {
            if (i.Meter.Name == ServiceDefaults.PlatformTelemetry.MeterName && i.Name == instrument) l.EnableMeasurementEvents(i);
        };
        _listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
        {
            foreach (var t in tags)
            {
                if (t.Key == tag) _byTag.AddOrUpdate(t.Value?.ToString() ?? "", value, (_, sum) => sum + value);
            }
        });
        _listener.Start();
    }

    public long this[string tagValue] => _byTag.GetValueOrDefault(tagValue);

    public void Dispose() => _listener.Dispose();
}
