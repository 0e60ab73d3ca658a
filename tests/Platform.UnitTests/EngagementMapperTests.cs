using System.Text.Json;
using ScoringPlatform.Contracts;
using ScoringPlatform.Ingestion.Consuming;
using ScoringPlatform.Leads;

namespace ScoringPlatform.Platform.UnitTests;

public class EngagementMapperTests
{
    private static EngagementEvent Event(string type, string? propertiesJson = null, LeadTraits? traits = null) => new()
    {
        Id = "e-1",
        Type = type,
        LeadId = "lead-1",
        OccurredAt = DateTimeOffset.Parse("2026-11-01T10:00:00Z"),
        Source = "website",
        Campaign = "q4",
        Properties = propertiesJson is null ? null : JsonSerializer.Deserialize<Dictionary<string, JsonElement>>(propertiesJson),
        Traits = traits,
    };

    [Fact]
    public void A_page_view_keeps_its_category_and_page_as_the_activity()
    {
        var stored = EngagementMapper.ToDomainEvent(Event("page_viewed", """{"category":"pricing","url":"/pricing"}"""));
        stored.Should().BeEquivalentTo(new EngagementRecorded("e-1", "page_viewed", DateTimeOffset.Parse("2026-11-01T10:00:00Z"),
            "pricing", "/pricing", "website", "q4"));
    }

    [Fact]
    public void A_form_submission_uses_the_form_type_as_category()
    {
        var stored = (EngagementRecorded)EngagementMapper.ToDomainEvent(Event("form_submitted", """{"formType":"demo_request"}"""));
        stored.Category.Should().Be("demo_request");
    }

    [Fact]
    public void An_email_open_is_capped_per_email()
    {
        var stored = (EngagementRecorded)EngagementMapper.ToDomainEvent(Event("email_opened", """{"emailId":"nl-7"}"""));
        stored.ActivityKey.Should().Be("nl-7");
        stored.Category.Should().BeNull();
    }

    [Fact]
    public void A_profile_update_becomes_ProfileUpdated_with_its_traits()
    {
        var stored = EngagementMapper.ToDomainEvent(Event("profile_updated", traits: new LeadTraits { JobTitle = "CTO", CompanySize = 300 }));
        stored.Should().BeOfType<ProfileUpdated>().Which.Should().Match<ProfileUpdated>(p => p.JobTitle == "CTO" && p.CompanySize == 300);
    }
}
