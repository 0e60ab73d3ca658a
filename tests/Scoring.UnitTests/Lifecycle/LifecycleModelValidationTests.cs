using static ScoringPlatform.Scoring.UnitTests.TestModels;

namespace ScoringPlatform.Scoring.UnitTests.Lifecycle;

/// <summary>Model v3's tier hysteresis and SLA windows are data, validated with precise messages.</summary>
public class LifecycleModelValidationTests
{
    [Fact]
    public void Given_the_default_model_When_loaded_Then_it_has_tier_hysteresis_and_the_sla_windows_of_the_brief()
    {
        // DESIGN.md: "SLA: sales should follow up within a window (typically 4-24 h; Hot MQL fastest)";
        // "MQL-Light (engagement only, weak fit: nurture, no sales touch)"; "No stage flipping: separate enter/exit thresholds".
        var model = Default;

        (model.Sla.HotMql, model.Sla.Mql, model.Sla.MqlLight).Should().Be((TimeSpan.FromHours(4), TimeSpan.FromHours(24), (TimeSpan?)null));
        model.Tiers.FitMarginToDemote.Should().Be(5);
        model.Tiers.HotStayWindow.Should().Be(TimeSpan.FromDays(21));
        model.Tiers.HotWindow.Should().Be(TimeSpan.FromDays(14));
    }

    [Theory]
    [InlineData("\"fitMarginToDemote\": 5", "\"fitMarginToDemote\": -1", "tiers.hysteresis.fitMarginToDemote", "must be zero or positive, was -1")]
    [InlineData("\"hotStaysWithinDays\": 21", "\"hotStaysWithinDays\": 7", "tiers.hysteresis.hotStaysWithinDays", "7 is below tiers.hot.withinDays 14")]
    [InlineData("\"hotStaysWithinDays\": 21", "\"hotStaysWithinDays\": 0", "tiers.hysteresis.hotStaysWithinDays", "must be a positive number of days, was 0")]
    [InlineData("\"hot\": 4, \"mql\": 24", "\"hot\": 48, \"mql\": 24", "sla.followUpHours.hot", "48 h is slower than mql 24 h")]
    [InlineData("\"hot\": 4, \"mql\": 24", "\"hot\": 0, \"mql\": 24", "sla.followUpHours.hot", "above 0 and at most 8760")]
    [InlineData("\"hot\": 4, \"mql\": 24", "\"hot\": 4, \"mql\": 24, \"warm\": 8", "sla.followUpHours.warm", "unknown tier 'warm' (known: mql_light, mql, hot)")]
    [InlineData("\"hot\": 4, \"mql\": 24", "\"hot\": 4, \"mql\": 24, \"mql_light\": 12", "sla.followUpHours.mql", "24 h is slower than mql_light 12 h")]
    [InlineData("\"fitMarginToDemote\": 5", "\"fitMarginToDemot\": 5", "$.tiers.hysteresis.fitMarginToDemot", "not a valid model document")]
    public void Given_a_lifecycle_setting_with_one_mistake_When_parsed_Then_it_is_rejected_naming_the_field_and_why(string find, string replace, string field, string why)
    {
        var ok = ScoringModelLoader.TryParse(DefaultJsonWith(find, replace), out var model, out var errors);

        ok.Should().BeFalse();
        model.Should().BeNull();
        errors.Should().ContainSingle(e => e.Field == field).Which.Message.Should().Contain(why);
    }

    [Fact]
    public void Given_a_model_without_sla_or_hysteresis_When_loaded_Then_there_is_no_sla_and_tiers_have_no_margin()
    {
        var bare = DefaultWith("\"hysteresis\": { \"fitMarginToDemote\": 5, \"hotStaysWithinDays\": 21 }", "\"hysteresis\": {}");

        DefaultWith("\"sla\": { \"followUpHours\": { \"hot\": 4, \"mql\": 24 } },", "").Sla.Should().Be(SlaSettings.None);
        (bare.Tiers.FitMarginToDemote, bare.Tiers.HotStayWindow).Should().Be((0, TimeSpan.FromDays(14)));
    }
}
