using ScoringPlatform.Leads.EventStore;

namespace ScoringPlatform.Platform.UnitTests;

public class EventIdsTests
{
    // Pinned outputs: existing stores depend on this mapping, so it must never change. Computed independently
    // with Python's RFC 4122 implementation, uuid.uuid5(UUID('7d1e3f0a-5b1c-4f0e-9a52-2c4b8e6f1a90'), name);
    // the implementation is standard UUIDv5 (SHA-1, network byte order, UTF-8 name).
    [Theory]
    [InlineData("evt-1", "41e31dba-1008-5ab7-a992-96f34f4d23f8")]
    [InlineData("evt-42", "7d9742ff-7201-5110-888e-6a9f9d9ebddd")]
    [InlineData("évènement-ü", "baec7fa4-7846-5ee3-ac17-492fa7ab3439")]
    public void A_source_id_maps_to_its_pinned_uuid_v5(string sourceId, string expected)
    {
        EventIds.FromSourceId(sourceId).Should().Be(Guid.Parse(expected));
    }

    [Fact]
    public void A_derived_id_is_the_uuid_v5_of_kind_lead_and_trigger_joined_by_unit_separators()
    {
        EventIds.Derived("mql_crossed", "lead-1", "evt-1").Should().Be(Guid.Parse("30d9d5cf-6b6d-50fe-ab05-2251cb92a394"));
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
