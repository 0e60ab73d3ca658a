using System.Text.Json;
using static ScoringPlatform.Scoring.UnitTests.TestModels;

namespace ScoringPlatform.Scoring.UnitTests;

/// <summary>The state is stored as a JSON document inside the projection's view, so it must round-trip losslessly.</summary>
public class StateSerializationTests
{
    public static TheoryData<string> Serializers => new() { "default", "web" };

    private static JsonSerializerOptions Options(string name) =>
        name == "web" ? new JsonSerializerOptions(JsonSerializerDefaults.Web) : new JsonSerializerOptions();

    [Theory]
    [MemberData(nameof(Serializers))]
    public void Given_a_state_mid_stream_When_round_tripped_through_json_and_continued_Then_verdicts_equal_the_unserialised_state(string serializer)
    {
        var options = Options(serializer);
        var model = DefaultWith("\"maxEventsPerLead\": 64", "\"maxEventsPerLead\": 3");
        var first = new[] { Pricing(T0), Ev("email_opened", T0, activity: "m"), Demo(T0.AddDays(1)), Ev("webinar_attended", T0.AddDays(2)) };
        var second = new[] { Ev("email_opened", T0.AddHours(-1), activity: "m"), Ev("sales_contacted", T0.AddDays(3)), Ev("unsubscribed", T0.AddDays(4)) };
        var original = Lead(model, GoodFit, first);
        original.UpdateStage(T0.AddDays(1), model);

        var restored = JsonSerializer.Deserialize<LeadScoreState>(JsonSerializer.Serialize(original, options), options)!;
        foreach (var e in second)
        {
            original.Apply(e, model).Should().Be(restored.Apply(e, model));
        }

        restored.IsMql.Should().BeTrue();
        foreach (var asOf in new[] { T0.AddDays(3), T0.AddDays(4), T0.AddDays(50) })
        {
            Scorer.Evaluate(restored, model, asOf).Should().BeEquivalentTo(Scorer.Evaluate(original, model, asOf));
        }

        JsonSerializer.Serialize(restored, options).Should().Be(JsonSerializer.Serialize(original, options));
    }

    [Fact]
    public void Given_a_fresh_parameterless_state_When_an_event_is_applied_Then_it_initialises_itself_for_the_model()
    {
        var state = new LeadScoreState();

        state.Apply(Pricing(T0), Default);

        (state.ModelId, state.ModelVersion).Should().Be(("default", 3));
        Scorer.Evaluate(state, Default, T0).TotalScore.Should().Be(20);
    }
}
