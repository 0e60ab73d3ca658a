using System.Net;
using System.Text.Json;
using ScoringPlatform.Api.V1;
using ScoringPlatform.Contracts;
using ScoringPlatform.TestSupport;

namespace ScoringPlatform.EndToEnd.Tests;

/// <summary>
/// Identity resolution through the three processes: anonymous page views on Kafka, then an identify (Segment's identify:
/// a profile_updated carrying the lead id and the anonymous id). DESIGN.md: "resolve identity (anonymous visitor ->
/// known lead)".
/// </summary>
[Collection(PlatformCollection.Name)]
public sealed class IdentityEndToEndTests(PlatformFixture platform)
{
    private static readonly DateTimeOffset Now = DateTimeOffset.UtcNow;

    [Fact]
    public async Task A_visitor_identified_after_browsing_has_its_page_views_in_the_leads_verdict_and_later_ones_count_too()
    {
        var lead = TestEnvironment.Unique("lead");
        var visitor = TestEnvironment.Unique("visitor");
        await ProduceAnonymousAsync(visitor, EngagementEventTypes.PageViewed, PageCategories.Pricing, Now.AddMinutes(-3));
        await ProduceAnonymousAsync(visitor, EngagementEventTypes.PageViewed, PageCategories.Blog, Now.AddMinutes(-2));
        // Stored and scored under the anonymous stream first: the identify below really comes after them.
        await platform.VerdictWhen("anon:" + visitor, v => v.EventCount == 2);

        await platform.Kafka.ProduceAsync(Topics.EngagementEvents, lead,
            Events.Profile(lead, Now.AddMinutes(-1), Events.FitTraits) with { AnonymousId = visitor });

        var verdict = await platform.VerdictWhen(lead, v => v.EventCount == 3 && v.LinkedIdentities.Count == 1);
        verdict.LinkedIdentities[0].Should().BeEquivalentTo(new
        {
            Id = visitor, StreamKey = "anon:" + visitor, Kind = "anonymous", EventsCopied = 2,
        }, o => o.ExcludingMissingMembers());
        verdict.Contributions.Should().Contain(c => c.Count == 1 && c.RawPoints == 20, "the anonymous pricing page view counts for the lead, once");
        verdict.FitScore.Should().BeGreaterThan(0);

        var timeline = await new LeadQueries.LeadQueriesClient(platform.Channel).GetLeadTimelineAsync(new GetLeadTimelineRequest { LeadId = lead });
        timeline.Events.Should().ContainSingle(e => e.Type == "IdentityLinked").Which.LinkedIdentity.StreamKey.Should().Be("anon:" + visitor);
        timeline.Events.Count(e => e.Type == "EngagementRecorded").Should().Be(2);

        // The anonymous id now answers for the lead.
        var viaVisitor = await platform.Grpc.GetVerdictAsync(new GetVerdictRequest { LeadId = "anon:" + visitor });
        (viaVisitor.LeadId, viaVisitor.RequestedId).Should().Be((lead, "anon:" + visitor));

        // A later anonymous event (the same browser, not logged in) counts for the lead.
        await ProduceAnonymousAsync(visitor, EngagementEventTypes.FormSubmitted, FormTypes.DemoRequest, Now);
        var after = await platform.VerdictWhen(lead, v => v.EventCount == 4);
        after.TotalScore.Should().BeGreaterThan(verdict.TotalScore);

        using var response = await platform.Rest.GetAsync($"/v1/leads/{lead}/verdict");
        response.StatusCode.Should().Be(HttpStatusCode.OK);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        json.RootElement.GetProperty("linkedIdentities")[0].GetProperty("streamKey").GetString().Should().Be("anon:" + visitor);
    }

    private Task ProduceAnonymousAsync(string visitor, string type, string category, DateTimeOffset at) =>
        platform.Kafka.ProduceAsync(Topics.EngagementEvents, visitor,
            Events.Engagement("unused", type, at, category) with { Id = TestEnvironment.Unique("anon-event"), LeadId = null, AnonymousId = visitor });

}
