using ScoringPlatform.Leads.EventStore;

namespace ScoringPlatform.Platform.UnitTests;

public class EventIdsTests
{
    [Fact]
    public void The_same_source_id_always_maps_to_the_same_event_id()
    {
        EventIds.FromSourceId("evt-42").Should().Be(EventIds.FromSourceId("evt-42"));
    }

    [Fact]
    public void Different_source_ids_map_to_different_event_ids()
    {
        EventIds.FromSourceId("evt-42").Should().NotBe(EventIds.FromSourceId("evt-43"));
    }

    [Fact]
    public void A_guid_source_id_is_used_as_is()
    {
        var id = Guid.NewGuid();
        EventIds.FromSourceId(id.ToString()).Should().Be(id);
    }

    [Fact]
    public void Name_based_ids_are_version_5_uuids()
    {
        EventIds.FromSourceId("evt-42").ToString()[14].Should().Be('5');
    }
}
