using System.Text.Json;
using ScoringPlatform.Scoring.Lifecycle;
using static ScoringPlatform.Scoring.UnitTests.TestModels;
using static ScoringPlatform.Scoring.UnitTests.Lifecycle.LifecycleTestData;

namespace ScoringPlatform.Scoring.UnitTests.Lifecycle;

/// <summary>A projection stores <see cref="LeadLifecycle"/> as a JSON document between events, so it must round-trip.</summary>
public class LeadLifecycleSerializationTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Given_a_lifecycle_mid_stream_When_round_tripped_through_json_and_continued_Then_it_gives_the_same_updates(bool web)
    {
        var options = web ? new JsonSerializerOptions(JsonSerializerDefaults.Web) : new JsonSerializerOptions();
        var model = DefaultWith("\"maxEventsPerLead\": 64", "\"maxEventsPerLead\": 2");
        LeadInput[] first =
        [
            Profile(T0, GoodFit, "p"), Engagement(Demo(T0, "d")), Engagement(Pricing(T0.AddDays(1), id: "x")),
            Engagement(Ev("email_opened", T0.AddDays(2), activity: "m", id: "o")), Sales(SalesActionKind.Accept, T0.AddDays(3), "k1"),
        ];
        LeadInput[] second =
        [
            Engagement(Pricing(T0.AddHours(2), id: "late")), Sales(SalesActionKind.Recycle, T0.AddDays(4), "k2", reason: "later"),
            Profile(T0.AddDays(5), new LeadProfile("a@gmail.com", null, null, null, null, null), "p5"),
        ];
        var original = Incremental(first, model);

        var restored = JsonSerializer.Deserialize<LeadLifecycle>(JsonSerializer.Serialize(original, options), options)!;

        foreach (var input in second)
        {
            var a = LeadTimeline.Record(original, input, model);
            var b = LeadTimeline.Record(restored, input, model);
            b.Emitted.Should().BeEquivalentTo(a.Emitted);
            b.Superseded.Should().BeEquivalentTo(a.Superseded);
            b.NextDueAt.Should().Be(a.NextDueAt);
        }

        restored.Status.Should().Be(original.Status);
        restored.Inputs.Should().Equal(original.Inputs);
    }
}
