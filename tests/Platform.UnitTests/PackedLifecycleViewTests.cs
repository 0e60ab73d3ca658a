using System.Text.Json;
using System.Text.Json.Nodes;
using Marten;
using ScoringPlatform.Leads.EventStore;
using ScoringPlatform.Leads.ReadModel;
using ScoringPlatform.Scoring;
using ScoringPlatform.Scoring.Lifecycle;

namespace ScoringPlatform.Platform.UnitTests;

/// <summary>
/// The score view stores its lifecycle packed, as one base64 string, through the store's own serializer (the one every
/// reader uses: Marten loads, the Api's verdict feed, the rebuild). Views stored before (the lifecycle as a JSON object,
/// layout 2) must still read, so nothing breaks between an upgrade and the layout rebuild.
/// </summary>
public class PackedLifecycleViewTests
{
    private static readonly ISerializer Serializer = StoreSerializer();

    private static ISerializer StoreSerializer()
    {
        var options = new StoreOptions();
        LeadEventStore.Configure(options, "Host=localhost;Database=unused", "packed_view_tests", ScoringModel.Default);
        return options.Serializer();
    }

    private static LeadScoreView View()
    {
        var model = ScoringModel.Default;
        var at = new DateTimeOffset(2026, 3, 2, 9, 0, 0, TimeSpan.Zero);
        var lifecycle = LeadLifecycle.Create(model);
        LeadTimeline.Record(lifecycle, new ProfileInput("p1", at, new LeadProfile("ana@acme.com", "VP Marketing", 500, "Software", "DE", true)), model);
        LeadTimeline.Record(lifecycle, new EngagementInput(new ScoringEvent("d1", "form_submitted", at.AddMinutes(1), "demo_request")), model);
        LeadTimeline.Record(lifecycle, new SalesInput(new SalesAction(SalesActionKind.Accept, "rep@acme.com", at.AddHours(1), "k1", Sequence: 3)), model);
        return new LeadScoreView { Id = "lead-1", Lifecycle = lifecycle, ModelId = model.Id, ModelVersion = model.Version, StreamVersion = 3, LastSequence = 42 };
    }

    [Fact]
    public void Given_a_view_When_the_store_serialises_it_Then_the_lifecycle_is_one_packed_string_and_reads_back_as_the_same_lifecycle()
    {
        var view = View();

        var json = Serializer.ToJson(view);
        var back = Serializer.FromJson<LeadScoreView>(new MemoryStream(System.Text.Encoding.UTF8.GetBytes(json)));

        JsonNode.Parse(json)!["Lifecycle"]!.GetValueKind().Should().Be(JsonValueKind.String);
        back.Lifecycle.Status.Stage.Should().Be(LifecycleStage.Sal, "the accepted MQL came back");
        JsonSerializer.Serialize(back.Lifecycle).Should().Be(JsonSerializer.Serialize(view.Lifecycle));
        Serializer.ToJson(back).Should().Be(json);
    }

    [Fact]
    public void Given_a_view_stored_with_the_lifecycle_as_a_json_object_When_read_Then_it_reads_as_before()
    {
        var view = View();
        var node = JsonNode.Parse(Serializer.ToJson(view))!;
        // The layout-2 form: the lifecycle as the store's serializer wrote the object (enums by name).
        var objectForm = JsonNode.Parse(Serializer.ToJson(view.Lifecycle))!;
        objectForm.GetValueKind().Should().Be(JsonValueKind.Object);
        node["Lifecycle"] = objectForm;
        node["Layout"] = 2;

        var back = Serializer.FromJson<LeadScoreView>(new MemoryStream(System.Text.Encoding.UTF8.GetBytes(node.ToJsonString())));

        back.Layout.Should().Be(2);
        JsonSerializer.Serialize(back.Lifecycle).Should().Be(JsonSerializer.Serialize(view.Lifecycle));
    }

    [Fact]
    public void Given_a_view_whose_packed_lifecycle_is_corrupt_When_read_Then_it_fails_naming_the_packed_lifecycle()
    {
        var node = JsonNode.Parse(Serializer.ToJson(View()))!;
        var packed = Convert.FromBase64String(node["Lifecycle"]!.GetValue<string>());
        node["Lifecycle"] = Convert.ToBase64String(packed[..(packed.Length / 2)]);

        var read = () => Serializer.FromJson<LeadScoreView>(new MemoryStream(System.Text.Encoding.UTF8.GetBytes(node.ToJsonString())));

        read.Should().Throw<Exception>().Where(e => Messages(e).Contains("packed lifecycle") || Messages(e).Contains("packed state"));
    }

    private static string Messages(Exception? e) => e is null ? "" : e.Message + " | " + Messages(e.InnerException);
}
