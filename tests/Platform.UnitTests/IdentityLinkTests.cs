using System.Text.Json;
using ScoringPlatform.Contracts;
using ScoringPlatform.Ingestion.Consuming;
using ScoringPlatform.Leads;
using ScoringPlatform.Leads.EventStore;
using ScoringPlatform.Leads.Identity;

namespace ScoringPlatform.Platform.UnitTests;

/// <summary>Which messages link identities, and what a link request comes to against the aliases already recorded.</summary>
public class IdentityLinkTests
{
    private static readonly DateTimeOffset At = DateTimeOffset.Parse("2026-11-01T10:00:00Z");

    private static EngagementEvent Event(string type, string? leadId, string? anonymousId, string? previousId = null) => new()
    {
        Id = "e-1",
        Type = type,
        LeadId = leadId,
        AnonymousId = anonymousId,
        OccurredAt = At,
        Properties = previousId is null ? null : new() { ["previousId"] = JsonSerializer.SerializeToElement(previousId) },
        Traits = type == EngagementEventTypes.ProfileUpdated ? new LeadTraits { JobTitle = "CTO" } : null,
    };

    [Fact]
    public void An_identify_is_a_profile_update_with_both_ids_and_links_the_anonymous_stream()
    {
        var e = Event(EngagementEventTypes.ProfileUpdated, "lead-1", "visitor-1");

        EngagementMapper.ToDomainEvent(e).Should().BeOfType<ProfileUpdated>("the profile is stored as before");
        EngagementMapper.LinkOf(e).Should().BeEquivalentTo(new IdentityLinkRequest("e-1", At, [new LinkCandidate("visitor-1", ["anon:visitor-1"])]));
    }

    [Fact]
    public void A_previous_id_may_be_an_anonymous_id_or_a_lead_id_so_both_keys_are_linked()
    {
        var e = Event(EngagementEventTypes.IdentityLinked, "lead-1", "visitor-1", previousId: "lead-0");

        var link = EngagementMapper.ToDomainEvent(e).Should().BeOfType<IdentityLinkRequest>("nothing but the link is stored for identity_linked").Subject;
        link.Keys.Should().Equal("anon:visitor-1", "anon:lead-0", "lead-0");
    }

    [Theory]
    [InlineData(EngagementEventTypes.ProfileUpdated, "lead-1", null)]
    [InlineData(EngagementEventTypes.ProfileUpdated, null, "visitor-1")]
    [InlineData(EngagementEventTypes.PageViewed, "lead-1", "visitor-1")]
    public void Other_messages_link_nothing(string type, string? leadId, string? anonymousId) =>
        EngagementMapper.LinkOf(Event(type, leadId, anonymousId)).Should().BeNull();

    [Fact]
    public void Keys_already_linked_to_the_survivor_are_skipped_so_a_second_link_is_a_no_op()
    {
        var request = new IdentityLinkRequest("e-2", At, [LinkCandidate.Anonymous("v"), LinkCandidate.Previous("old")]);
        var aliases = new Dictionary<string, string> { ["anon:v"] = "lead-1" };

        ((LinkDecision.Link)IdentityLinks.Decide("lead-1", "lead-1", request, aliases.GetValueOrDefault)).Keys.Should().Equal("anon:old", "old");
        aliases["anon:old"] = aliases["old"] = "lead-1";
        ((LinkDecision.Link)IdentityLinks.Decide("lead-1", "lead-1", request, aliases.GetValueOrDefault)).Keys.Should().BeEmpty();
    }

    [Fact]
    public void A_link_into_a_merged_lead_goes_to_its_survivor_and_a_link_back_from_the_survivor_is_a_cycle()
    {
        var aliases = new Dictionary<string, string> { ["b"] = "c", ["anon:b"] = "c" };

        var forward = IdentityLinks.Decide("b", "c", new IdentityLinkRequest("e", At, [LinkCandidate.Anonymous("v")]), aliases.GetValueOrDefault);
        forward.Should().BeOfType<LinkDecision.Link>().Which.Keys.Should().Equal("anon:v");

        var back = IdentityLinks.Decide("b", "c", new IdentityLinkRequest("e", At, [LinkCandidate.Previous("c")]), aliases.GetValueOrDefault);
        back.Should().BeOfType<LinkDecision.Refused>().Which.Reason.Should().Contain("cycle").And.Contain("'c'");
    }

    [Fact]
    public void An_identity_linked_to_another_lead_is_refused_and_nothing_of_the_request_applies()
    {
        var aliases = new Dictionary<string, string> { ["anon:v"] = "lead-2" };
        var request = new IdentityLinkRequest("e", At, [LinkCandidate.Previous("fresh"), LinkCandidate.Anonymous("v")]);

        IdentityLinks.Decide("lead-1", "lead-1", request, aliases.GetValueOrDefault)
            .Should().BeOfType<LinkDecision.Refused>().Which.Reason.Should().Contain("already linked to lead 'lead-2'");
    }

    [Fact]
    public void A_copy_id_depends_on_the_lead_and_the_producers_id_only()
    {
        IdentityAliases.CopyId("c", "e-1").Should().Be(IdentityAliases.CopyId("c", "e-1"));
        IdentityAliases.CopyId("c", "e-1").Should().NotBe(IdentityAliases.CopyId("b", "e-1"));
        IdentityAliases.CopyId("c", "e-1").Should().NotBe(EventIds.FromSourceId("e-1"), "the original stays valid in the linked stream");
        IdentityAliases.LockKey("anon:v").Should().Be(IdentityAliases.LockKey("anon:v"));
    }
}
