using System.Text.Json;
using ScoringPlatform.Contracts;
using ScoringPlatform.Tracking.Mapping;

namespace ScoringPlatform.Tracking.Tests;

/// <summary>The pure mapping tables and rules, without a service.</summary>
public class SegmentMappingTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 23, 12, 0, 0, TimeSpan.Zero);
    private static readonly MappingContext Context = new("website", Now, null, OccurredAtWindow.At(Now, TimeSpan.FromDays(1), EngagementEventRules.DefaultOldestOccurredAt));

    [Theory]
    [InlineData("Pricing", PageCategories.Pricing)]
    [InlineData("Plans & Pricing", PageCategories.Pricing)]
    [InlineData("Case Studies", PageCategories.CaseStudy)]
    [InlineData("case_study", PageCategories.CaseStudy)]
    [InlineData("Customer Stories", PageCategories.CaseStudy)]
    [InlineData("Documentation", PageCategories.Docs)]
    [InlineData("Jobs", PageCategories.Careers)]
    [InlineData("Features", PageCategories.Product)]
    [InlineData("Blog Post", PageCategories.Blog)]
    [InlineData("Team Offsite", null)]
    public void Page_category_names_are_read_as_contract_categories(string name, string? expected) =>
        PageCategoryNames.Recognise(name).Should().Be(expected);

    [Theory]
    [InlineData("https://example.io/pricing?plan=pro", PageCategories.Pricing)]
    [InlineData("/docs/getting-started", PageCategories.Docs)]
    [InlineData("https://example.io/case-studies/acme", PageCategories.CaseStudy)]
    [InlineData("https://example.io/", null)]
    public void A_page_path_names_its_category_by_its_first_segment(string url, string? expected) =>
        PageCategoryNames.FromPath(url).Should().Be(expected);

    [Theory]
    [InlineData("Demo Requested", EngagementEventTypes.FormSubmitted, FormTypes.DemoRequest)]
    [InlineData("demo_requested", EngagementEventTypes.FormSubmitted, FormTypes.DemoRequest)]
    [InlineData("Contact Sales Submitted", EngagementEventTypes.FormSubmitted, FormTypes.ContactSales)]
    [InlineData("Content Downloaded", EngagementEventTypes.ContentDownloaded, null)]
    [InlineData("Webinar Registered", EngagementEventTypes.WebinarRegistered, null)]
    [InlineData("Email Opened", EngagementEventTypes.EmailOpened, null)]
    [InlineData("Email Link Clicked", EngagementEventTypes.EmailClicked, null)]
    [InlineData("Unsubscribed", EngagementEventTypes.Unsubscribed, null)]
    [InlineData("sales_contacted", EngagementEventTypes.SalesContacted, null)]
    public void Known_track_names_map_onto_engagement_types(string name, string type, string? formType) =>
        TrackNames.Find(name).Should().Be(new TrackMapping(type, formType));

    [Theory]
    [InlineData("Added to Cart")]
    [InlineData("profile_updated")]
    [InlineData("identity_linked")]
    public void Other_track_names_are_custom_events(string name) => TrackNames.Find(name).Should().BeNull();

    [Fact]
    public void OccurredAt_is_the_timestamp_moved_by_the_difference_between_the_server_and_client_clocks()
    {
        var clientAhead = TimeSpan.FromMinutes(42);
        var sentAt = Now + clientAhead;
        SegmentMapper.OccurredAt(sentAt - TimeSpan.FromSeconds(30), sentAt, Now).Should().Be(Now - TimeSpan.FromSeconds(30));
        SegmentMapper.OccurredAt(Now - TimeSpan.FromHours(1), null, Now).Should().Be(Now - TimeSpan.FromHours(1), "no sentAt: the timestamp as given");
        SegmentMapper.OccurredAt(null, sentAt, Now).Should().Be(Now, "no timestamp: when it was received");
    }

    [Fact]
    public void A_timestamp_without_an_offset_is_UTC_not_the_server_zone()
    {
        SegmentMapper.TryParseTime("2026-11-23T10:00:00", out var at).Should().BeTrue();
        at.Should().Be(new DateTimeOffset(2026, 11, 23, 10, 0, 0, TimeSpan.Zero));
        SegmentMapper.TryParseTime("yesterday", out _).Should().BeFalse();
    }

    [Fact]
    public void Every_mapped_event_passes_the_contract_parser_and_is_keyed_by_lead_else_anonymous_id()
    {
        var outcome = Map("""{"type":"identify","anonymousId":"a-1","messageId":"m-1","traits":{"email":"x@y.io","employees":12,"address":{"country":"uk"}}}""");

        var mapped = outcome.Should().BeOfType<MapOutcome.Mapped>().Subject;
        mapped.Key.Should().Be("a-1");
        EngagementEventParser.TryParse(mapped.Payload, Context.Window, out var parsed, out var reason).Should().BeTrue(reason?.ToString());
        parsed!.Traits.Should().BeEquivalentTo(new LeadTraits { Email = "x@y.io", CompanySize = 12, Country = "GB" });
    }

    [Fact]
    public void Group_is_accepted_without_an_event_and_unknown_calls_are_refused()
    {
        Map("""{"type":"group","userId":"u","groupId":"g"}""").Should().Be(new MapOutcome.Ignored("group"));
        Map("""{"type":"checkout","userId":"u"}""").Should().BeOfType<MapOutcome.Refused>().Which.Field.Should().Be("type");
        Map("""{"type":"track","event":"x"}""").Should().Be(new MapOutcome.Refused("missing_field", "userId", "'userId' or 'anonymousId' is required"));
    }

    private static MapOutcome Map(string json) => SegmentMapper.Map(JsonDocument.Parse(json).RootElement, null, Context);
}
