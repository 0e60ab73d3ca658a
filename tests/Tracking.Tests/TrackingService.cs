using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Confluent.Kafka;
using ScoringPlatform.Contracts;
using ScoringPlatform.TestSupport;

namespace ScoringPlatform.Tracking.Tests;

/// <summary>
/// The Tracking service as its own process on a real Kestrel socket, producing to a topic of its own on the dev broker
/// (the broker creates it on first use), so test classes running in parallel never read each other's events.
/// </summary>
public class TrackingService : IAsyncLifetime
{
    public string Topic { get; } = $"{Topics.EngagementEvents}-tracking-{Guid.NewGuid():N}";
    public int Port { get; } = TestEnvironment.FreePort();
    public string BaseUrl => $"http://127.0.0.1:{Port}";

    /// <summary>Source "website" with its key in clear; source "crm" configured by the key's SHA-256 only.</summary>
    public string WriteKey { get; } = "wk_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
    public string HashedWriteKey { get; } = "wk_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));

    public ServiceProcess Process { get; private set; } = null!;
    public HttpClient Http { get; private set; } = null!;
    public KafkaTestClient Kafka { get; } = new(TestEnvironment.KafkaBootstrap);

    /// <summary>Where the service's Kafka client points; the dev broker unless a test wants an absent one.</summary>
    protected virtual string ServiceBootstrap => TestEnvironment.KafkaBootstrap;

    /// <summary>Readiness includes the broker; a service pointed at no broker is waited for on liveness.</summary>
    protected virtual string HealthPath => "/health/ready";

    protected virtual Dictionary<string, string> Settings() => [];

    public virtual async Task InitializeAsync()
    {
        var environment = new Dictionary<string, string>
        {
            ["Kafka__BootstrapServers"] = ServiceBootstrap,
            ["Kafka__EngagementTopic"] = Topic,
            ["Kestrel__Endpoints__Http__Url"] = BaseUrl,
            ["Tracking__Sources__0__Name"] = "website",
            ["Tracking__Sources__0__WriteKey"] = WriteKey,
            ["Tracking__Sources__1__Name"] = "crm",
            ["Tracking__Sources__1__WriteKeyHash"] = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(HashedWriteKey))),
        };
        foreach (var (key, value) in Settings()) environment[key] = value;
        Process = ServiceProcess.Start("Tracking", environment);
        Http = new HttpClient { BaseAddress = new Uri(BaseUrl) };
        await WaitUntilAnsweringAsync();
    }

    private async Task WaitUntilAnsweringAsync()
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(90);
        while (DateTime.UtcNow < deadline)
        {
            if (Process.HasExited) throw new InvalidOperationException($"Tracking exited with {Process.ExitCode}:\n{Process.Output}");
            try
            {
                using var response = await Http.GetAsync(HealthPath);
                if (response.IsSuccessStatusCode) return;
            }
            catch (HttpRequestException)
            {
            }

            await Task.Delay(200);
        }

        throw new TimeoutException($"Tracking did not answer {HealthPath}:\n{Process.Output}");
    }

    public static AuthenticationHeaderValue Basic(string writeKey) =>
        new("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes(writeKey + ":")));

    /// <summary>POSTs <paramref name="body"/> (an object serialised as JSON, or a raw string) with the write key.</summary>
    public async Task<HttpResponseMessage> PostAsync(string path, object body, string? writeKey = null, Action<HttpRequestMessage>? configure = null)
    {
        var json = body as string ?? JsonSerializer.Serialize(body);
        var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(json, Encoding.UTF8, "application/json") };
        request.Headers.Authorization = Basic(writeKey ?? WriteKey);
        configure?.Invoke(request);
        return await Http.SendAsync(request);
    }

    /// <summary>The messages on this service's topic whose envelope id is one of <paramref name="ids"/>, read until all are there.</summary>
    public List<Arrived> ReadIds(params string[] ids)
    {
        var wanted = ids.ToHashSet();
        var found = Kafka.ConsumeUntil(Topic, r => wanted.Contains(Arrived.From(r).Id), seen => seen.Select(r => Arrived.From(r).Id).ToHashSet().IsSupersetOf(wanted),
            TimeSpan.FromSeconds(60));
        return found.Select(Arrived.From).ToList();
    }

    /// <summary>
    /// Everything on the topic up to and including the sentinel (an id sent after the request under test, on the same key,
    /// so the same partition): what the request under test produced would be before it.
    /// </summary>
    public List<Arrived> ReadUntilSentinel(string sentinelId) =>
        Kafka.ConsumeUntil(Topic, _ => true, seen => seen.Any(r => Arrived.From(r).Id == sentinelId), TimeSpan.FromSeconds(60))
            .Select(Arrived.From).ToList();

    public virtual async Task DisposeAsync()
    {
        Http?.Dispose();
        Kafka.Dispose();
        if (Process is not null) await Process.DisposeAsync();
    }
}

/// <summary>One message as it arrived on Kafka: key, headers and the parsed envelope.</summary>
public sealed record Arrived(string Key, string? TraceParent, JsonElement Json)
{
    public string Id => Json.GetProperty("id").GetString()!;
    public string Type => Json.GetProperty("type").GetString()!;
    public string? LeadId => Json.TryGetProperty("leadId", out var v) ? v.GetString() : null;
    public string? AnonymousId => Json.TryGetProperty("anonymousId", out var v) ? v.GetString() : null;
    public DateTimeOffset OccurredAt => Json.GetProperty("occurredAt").GetDateTimeOffset();
    public string? Property(string name) => Json.TryGetProperty("properties", out var p) && p.TryGetProperty(name, out var v) ? v.ToString() : null;
    public string? Trait(string name) => Json.TryGetProperty("traits", out var t) && t.TryGetProperty(name, out var v) ? v.ToString() : null;
    public string? Field(string name) => Json.TryGetProperty(name, out var v) ? v.GetString() : null;

    public static Arrived From(ConsumeResult<string, byte[]> result) =>
        new(result.Message.Key, KafkaTestClient.Header(result, Contracts.Headers.TraceParent), JsonDocument.Parse(result.Message.Value).RootElement.Clone());
}
