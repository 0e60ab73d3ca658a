using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using ScoringPlatform.Api.V1;
using ScoringPlatform.Contracts;
using ScoringPlatform.TestSupport;
using Xunit.Abstractions;

namespace ScoringPlatform.EndToEnd.Tests;

/// <summary>
/// The four services as deployed: the Tracking service in front (Segment's HTTP Tracking API with a write key), then
/// Ingestion, Projections and the Api (API key), on topics of this fixture only.
/// </summary>
public sealed class WebsitePlatformFixture : PlatformFixture
{
    private string RunId { get; } = "web" + Guid.NewGuid().ToString("N")[..10];
    public override string EngagementTopic => $"{Topics.EngagementEvents}-{RunId}";
    public override string DeadLetterTopic => $"{Topics.EngagementEventsDeadLetter}-{RunId}";
    public override string LifecycleTopic => $"{Topics.LeadLifecycle}-{RunId}";

    public string WriteKey { get; } = "wk_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
    public int TrackingPort { get; } = TestEnvironment.FreePort();
    public HttpClient Tracking { get; private set; } = null!;
    private ServiceProcess? _tracking;

    public override async Task InitializeAsync()
    {
        // The dev broker creates a topic on its first message: these exist before the services subscribe or publish.
        await Kafka.ProduceRawAsync(EngagementTopic, "topic-created", "{}"u8.ToArray());
        await Kafka.ProduceRawAsync(DeadLetterTopic, "topic-created", "{}"u8.ToArray());
        await Kafka.ProduceRawAsync(LifecycleTopic, "topic-created", "{}"u8.ToArray());
        await base.InitializeAsync();

        _tracking = ServiceProcess.Start("Tracking", new Dictionary<string, string>
        {
            ["Kafka__BootstrapServers"] = TestEnvironment.KafkaBootstrap,
            ["Kafka__EngagementTopic"] = EngagementTopic,
            ["Kestrel__Endpoints__Http__Url"] = $"http://127.0.0.1:{TrackingPort}",
            ["Tracking__Sources__0__Name"] = "website",
            ["Tracking__Sources__0__WriteKey"] = WriteKey,
        });
        await _tracking.WaitUntilHealthyAsync(TrackingPort, TimeSpan.FromSeconds(90));
        Tracking = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{TrackingPort}") };
    }

    /// <summary>A Segment call as a website backend sends it: JSON body, the write key as the Basic user name.</summary>
    public async Task<HttpResponseMessage> SendAsync(string call, object body, string? writeKey = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/v1/{call}") { Content = JsonContent.Create(body) };
        request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes((writeKey ?? WriteKey) + ":")));
        return await Tracking.SendAsync(request);
    }

    public override async Task DisposeAsync()
    {
        Tracking?.Dispose();
        if (_tracking is not null) await _tracking.DisposeAsync();
        await base.DisposeAsync();
    }
}

/// <summary>
/// A website visitor becomes a lead through the whole platform with nothing but HTTP: page views and actions while
/// anonymous, an identify, more anonymous actions, and a merge of two user ids — each through the Segment-compatible
/// Tracking service, read back from the Api with an API key. DESIGN.md: "resolve identity (anonymous visitor -> known
/// lead)"; issue 10: "the lead's scores include the pre-identification engagement exactly once, and later events under
/// the linked anonymous id count for the lead"; "the merged lead's verdict counts each event once".
/// </summary>
public sealed class WebsiteTrackingEndToEndTests(WebsitePlatformFixture platform, ITestOutputHelper output) : IClassFixture<WebsitePlatformFixture>
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);
    private static readonly DateTimeOffset Now = DateTimeOffset.UtcNow;

    private static object Fit => new { email = "ana@acme.io", title = "VP Engineering", employees = 400, industry = "software", address = new { country = "US" } };

    [Fact]
    public async Task An_anonymous_visitor_who_identifies_is_scored_as_one_lead_with_every_event_once_and_crosses_MQL_once()
    {
        var visitor = TestEnvironment.Unique("visitor");
        var lead = TestEnvironment.Unique("lead");
        string Id(string name) => $"{visitor}-{name}";

        // Browsing before the identify: a pricing page and a webinar (30 engagement points, no fit: not an MQL).
        (await platform.SendAsync("page", new { anonymousId = visitor, category = "Pricing", name = "Plans", messageId = Id("pricing"), timestamp = Now.AddMinutes(-30) }))
            .StatusCode.Should().Be(HttpStatusCode.OK);
        (await platform.SendAsync("track", new { anonymousId = visitor, @event = "Webinar Attended", messageId = Id("webinar"), timestamp = Now.AddMinutes(-25), properties = new { webinarId = "w-1" } }))
            .StatusCode.Should().Be(HttpStatusCode.OK);
        await platform.VerdictWhen("anon:" + visitor, v => v.EventCount == 2);

        // The identify, sent twice (a client retry): same messageId, linked once.
        var identify = new { userId = lead, anonymousId = visitor, traits = Fit, messageId = Id("identify"), timestamp = Now.AddMinutes(-20) };
        (await platform.SendAsync("identify", identify)).StatusCode.Should().Be(HttpStatusCode.OK);
        (await platform.SendAsync("identify", identify)).StatusCode.Should().Be(HttpStatusCode.OK);
        // The identify (keyed by the lead) and the visitor's events (keyed by the anonymous id) travel on different
        // partitions: wait until the link is stored, so the batch below really comes after it.
        await platform.VerdictWhen(lead, v => v.LinkedIdentities.Count == 1);
        // After it, the same browser still sends only its anonymous id: the demo request counts for the lead.
        (await platform.SendAsync("batch", new
        {
            batch = new object[]
            {
                new { type = "track", anonymousId = visitor, @event = "Demo Requested", messageId = Id("demo"), timestamp = Now.AddMinutes(-10) },
                new { type = "track", anonymousId = visitor, @event = "Slide Deck Requested", messageId = Id("deck"), timestamp = Now.AddMinutes(-9) },
            },
            sentAt = Now,
        })).StatusCode.Should().Be(HttpStatusCode.OK);

        var verdict = await platform.VerdictWhen(lead, v => v.EventCount == 5);
        verdict.LinkedIdentities.Should().ContainSingle().Which.StreamKey.Should().Be("anon:" + visitor);
        verdict.Contributions.Where(c => c.RuleId is "page_pricing" or "webinar_attended" or "form_demo_request")
            .Should().HaveCount(3).And.OnlyContain(c => c.Count == 1, "each event counts once, whichever identity sent it");
        verdict.FitScore.Should().BeGreaterThan(0, "the identify's traits are the lead's profile");
        verdict.IsMql.Should().BeTrue();
        verdict.Tier.Should().Be(MqlTier.HotMql, "a demo request with fit (DESIGN.md: \"Hot MQL (demo request ... with fit)\")");

        // The REST edge answers the same, with the API key; without it, 401 problem JSON.
        using (var json = JsonDocument.Parse(await platform.Rest.GetStringAsync($"/v1/leads/{lead}/verdict")))
        {
            json.RootElement.GetProperty("linkedIdentities")[0].GetProperty("streamKey").GetString().Should().Be("anon:" + visitor);
        }

        using (var anonymous = new HttpClient { BaseAddress = platform.Rest.BaseAddress })
        using (var refused = await anonymous.GetAsync($"/v1/leads/{lead}/verdict"))
        {
            refused.StatusCode.Should().Be(HttpStatusCode.Unauthorized);
            refused.Content.Headers.ContentType!.MediaType.Should().Be("application/problem+json");
        }

        // One crossing for the lead, none for the visitor's own stream (30 points without fit never qualified).
        var messages = Lifecycle([lead, "anon:" + visitor], seen => seen.Any(m => m.Key == lead && m.Type == LifecycleMessageTypes.MqlCrossed));
        messages.Where(m => m.Key == "anon:" + visitor).Should().BeEmpty();
        messages.Where(m => m.Key == lead && m.Type == LifecycleMessageTypes.MqlCrossed).Should().ContainSingle();
    }

    [Fact]
    public async Task An_alias_of_two_user_ids_merges_them_and_the_merged_lead_counts_each_event_once()
    {
        var survivor = TestEnvironment.Unique("user-new");
        var merged = TestEnvironment.Unique("user-old");
        var visitor = TestEnvironment.Unique("visitor");

        // The old user id browsed as a visitor first, then identified; the new id requested a demo.
        (await platform.SendAsync("page", new { anonymousId = visitor, category = "Pricing", messageId = visitor + "-pricing", timestamp = Now.AddHours(-3) }))
            .StatusCode.Should().Be(HttpStatusCode.OK);
        (await platform.SendAsync("identify", new { userId = merged, anonymousId = visitor, traits = Fit, messageId = merged + "-identify", timestamp = Now.AddHours(-2) }))
            .StatusCode.Should().Be(HttpStatusCode.OK);
        (await platform.SendAsync("track", new { userId = survivor, @event = "Demo Requested", messageId = survivor + "-demo", timestamp = Now.AddHours(-1) }))
            .StatusCode.Should().Be(HttpStatusCode.OK);
        await platform.VerdictWhen(merged, v => v.EventCount == 2 && v.LinkedIdentities.Count == 1);
        await platform.VerdictWhen(survivor, v => v.EventCount == 1);

        (await platform.SendAsync("alias", new { previousId = merged, userId = survivor, messageId = survivor + "-alias", timestamp = Now.AddMinutes(-30) }))
            .StatusCode.Should().Be(HttpStatusCode.OK);

        var verdict = await platform.VerdictWhen(survivor, v => v.LinkedIdentities.Any(l => l.StreamKey == merged));
        verdict.EventCount.Should().Be(3, "the demo, the pricing page (through the old id's link) and the profile, each once");
        verdict.Contributions.Where(c => c.RuleId is "page_pricing" or "form_demo_request").Should().HaveCount(2).And.OnlyContain(c => c.Count == 1);
        verdict.Tier.Should().Be(MqlTier.HotMql);

        // The old id and the visitor now answer for the survivor.
        foreach (var id in new[] { merged, "anon:" + visitor })
        {
            var via = await platform.Grpc.GetVerdictAsync(new GetVerdictRequest { LeadId = id });
            via.LeadId.Should().Be(survivor, $"{id} was merged into it");
        }
    }

    [Fact]
    public async Task A_wrong_write_key_is_refused_and_nothing_reaches_the_platform()
    {
        var visitor = TestEnvironment.Unique("visitor");
        using var refused = await platform.SendAsync("page", new { anonymousId = visitor, category = "Pricing", messageId = visitor + "-p" }, writeKey: "not-a-key");
        refused.StatusCode.Should().Be(HttpStatusCode.Unauthorized);

        // A later accepted call on the same key lands on the same partition after anything the refused one could have produced.
        (await platform.SendAsync("page", new { anonymousId = visitor, category = "Blog", messageId = visitor + "-sentinel" })).StatusCode.Should().Be(HttpStatusCode.OK);
        var verdict = await platform.VerdictWhen("anon:" + visitor, v => v.Contributions.Any(c => c.RuleId == "page_blog"));
        verdict.EventCount.Should().Be(1, "only the call with the right write key was accepted");
    }

    private sealed record LifecycleSeen(string Key, string Type, string MessageId);

    /// <summary>The lifecycle messages of <paramref name="keys"/>, once per message id (delivery is at least once).</summary>
    private List<LifecycleSeen> Lifecycle(string[] keys, Func<List<LifecycleSeen>, bool> done)
    {
        static LifecycleSeen Parse(Confluent.Kafka.ConsumeResult<string, byte[]> r) =>
            new(r.Message.Key, KafkaTestClient.Header(r, Headers.MessageType)!, KafkaTestClient.Header(r, Headers.MessageId)!);
        var found = platform.Kafka.ConsumeUntil(platform.LifecycleTopic, r => keys.Contains(r.Message.Key),
            seen => done(seen.Select(Parse).ToList()), Wait);
        var distinct = found.Select(Parse).DistinctBy(m => m.MessageId).ToList();
        output.WriteLine($"lifecycle deliveries: {found.Count}, distinct: {string.Join(", ", distinct.Select(m => $"{m.Key}:{m.Type}"))}");
        return distinct;
    }

}
