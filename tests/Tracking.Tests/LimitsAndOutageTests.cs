using System.Net;
using System.Text.Json;
using ScoringPlatform.TestSupport;

namespace ScoringPlatform.Tracking.Tests;

/// <summary>A service whose write keys get a bucket of two requests that refills once an hour.</summary>
public sealed class RateLimitedTrackingService : TrackingService
{
    protected override Dictionary<string, string> Settings() => new()
    {
        ["Tracking__RateLimit__TokenLimit"] = "2",
        ["Tracking__RateLimit__TokensPerPeriod"] = "2",
        ["Tracking__RateLimit__ReplenishmentPeriod"] = "01:00:00",
    };
}

public class RateLimitTests(RateLimitedTrackingService service) : IClassFixture<RateLimitedTrackingService>
{
    [Fact]
    public async Task A_write_key_over_its_token_bucket_gets_429_with_Retry_After_and_other_keys_are_not_affected()
    {
        var lead = TestEnvironment.Unique("lead");
        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 3; i++)
        {
            using var response = await service.PostAsync("/v1/track", new { userId = lead, @event = "Trial Started", messageId = TestEnvironment.Unique("rl") });
            statuses.Add(response.StatusCode);
            if (response.StatusCode != HttpStatusCode.TooManyRequests) continue;
            response.Headers.RetryAfter!.Delta.Should().BeGreaterThan(TimeSpan.Zero);
            var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
            (body.GetProperty("success").GetBoolean(), body.GetProperty("code").GetString()).Should().Be((false, "rate_limited"));
        }

        using var otherKey = await service.PostAsync("/v1/track", new { userId = lead, @event = "Trial Started", messageId = TestEnvironment.Unique("rl") },
            writeKey: service.HashedWriteKey);

        statuses.Should().Equal(HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests);
        otherKey.StatusCode.Should().Be(HttpStatusCode.OK, "each write key has its own bucket");
    }
}

/// <summary>
/// A service whose Kafka client points at a port nobody listens on, with a 1.5 s delivery timeout: every produce fails
/// the way an unreachable cluster does. It shares its topic name with a healthy service on the dev broker, which shows
/// that nothing of the refused request arrived there.
/// </summary>
public sealed class BrokerDownTrackingService : TrackingService
{
    protected override string ServiceBootstrap { get; } = $"127.0.0.1:{TestEnvironment.FreePort()}";
    protected override string HealthPath => "/health/live";

    protected override Dictionary<string, string> Settings() => new() { ["Tracking__DeliveryTimeout"] = "00:00:01.500" };
}

public class BrokerOutageTests(BrokerDownTrackingService down) : IClassFixture<BrokerDownTrackingService>
{
    [Fact]
    public async Task With_the_broker_unreachable_a_request_answers_503_with_Retry_After_and_readiness_fails()
    {
        var lead = TestEnvironment.Unique("lead");
        var ids = new[] { TestEnvironment.Unique("down"), TestEnvironment.Unique("down") };

        using var response = await down.PostAsync("/v1/batch", new
        {
            batch = ids.Select(id => new { type = "track", userId = lead, @event = "Demo Requested", messageId = id }).ToArray(),
        });
        using var ready = await down.Http.GetAsync("/health/ready");

        var text = await response.Content.ReadAsStringAsync();
        response.StatusCode.Should().Be(HttpStatusCode.ServiceUnavailable, text);
        response.Headers.RetryAfter!.Delta.Should().Be(TimeSpan.FromSeconds(5));
        var body = JsonDocument.Parse(text).RootElement;
        (body.GetProperty("success").GetBoolean(), body.GetProperty("code").GetString()).Should().Be((false, "unavailable"));
        ready.StatusCode.Should().Be(HttpStatusCode.ServiceUnavailable, "readiness includes the broker");

        // The same topic on the real broker, read up to a later message on the same key: the refused events are not there.
        var sentinel = TestEnvironment.Unique("sentinel");
        await down.Kafka.ProduceRawAsync(down.Topic, lead, JsonSerializer.SerializeToUtf8Bytes(new { id = sentinel }));
        down.ReadUntilSentinel(sentinel).Where(a => a.Key == lead).Select(a => a.Id).Should().Equal(sentinel);
    }
}
