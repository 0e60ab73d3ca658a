using static ScoringPlatform.Scoring.UnitTests.TestModels;

namespace ScoringPlatform.Scoring.UnitTests;

/// <summary>The v2 sections (qualification, qualificationRules, profile data lists) fail with precise messages.</summary>
public class ModelV2ValidationTests
{
    private static readonly string Seed004Json = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "examples", "seed-004-b2b.json"));

    [Theory]
    [InlineData("\"minEngagementToStay\": 5", "\"minEngagementToStay\": 20", null, "qualification.minEngagementToStay", "above minEngagementToEnter 15")]
    [InlineData("\"minDistinctActions\": 2", "\"minDistinctActions\": -1", null, "qualification.minDistinctActions", "must be zero or positive")]
    [InlineData("\"distinctActionsWithinDays\": 30", "\"distinctActionsWithinDays\": 0", null, "qualification.distinctActionsWithinDays", "must be positive")]
    [InlineData("\"handRaisers\": [ \"form_demo_request\"", "\"handRaisers\": [ \"form_demo\"", "form_demo", "qualification.handRaisers", "unknown engagement rule 'form_demo'")]
    [InlineData("\"targetCountries\": [ \"US\"", "\"targetCountries\": [ \"USA\"", null, "lists.targetCountries[0]", "'USA' is not an ISO 3166-1 alpha-2 code (did you mean 'US'?)")]
    [InlineData("\"uk\": \"GB\"", "\"uk\": \"UK\"", null, "lists.countryAliases.uk", "'UK' is not an ISO 3166-1 alpha-2 code")]
    [InlineData("\"svp\": \"senior vice president\"", "\"s vp\": \"senior vice president\"", null, "lists.titleAbbreviations.s vp", "an abbreviation is one word")]
    [InlineData("{ \"id\": \"neg_student_title\", \"condition\": \"student_title\", \"points\": -25 }", "{ \"id\": \"neg_student_title\", \"condition\": \"student_title\", \"points\": -25 }, { \"id\": \"x\", \"condition\": \"student_titles\", \"points\": -1 }", "x", "profileRules[10].condition", "unknown condition 'student_titles'")]
    public void Given_a_default_model_with_one_v2_mistake_When_parsed_Then_it_is_rejected_naming_the_field_and_why(
        string find, string replace, string? ruleId, string field, string why) =>
        ShouldReject(DefaultJsonWith(find, replace), ruleId, field, why);

    [Theory]
    [InlineData("\"categories\": [ \"pricing\", \"product\" ]", "\"categories\": [ \"pricing\", \"careers\" ]", "seed004_icp_pricing_followup_email", "qualificationRules[0].events[0].categories", "no engagement rule scores page_viewed/careers")]
    [InlineData("\"eventType\": \"webinar_attended\", \"atLeast\": 1", "\"eventType\": \"webinar_atended\", \"atLeast\": 1", "seed004_live_webinar_slide_deck", "qualificationRules[1].events[0].eventType", "no engagement rule scores 'webinar_atended'")]
    [InlineData("\"after\": \"visit\"", "\"after\": \"visits\"", "seed004_icp_pricing_followup_email", "qualificationRules[0].events[1].after", "'visits' is not an earlier clause of this rule (declared: visit)")]
    [InlineData("\"atLeast\": 1, \"withinDays\": 7, \"after\"", "\"atLeast\": 0, \"withinDays\": 7, \"after\"", "seed004_icp_pricing_followup_email", "qualificationRules[0].events[1].atLeast", "must be >= 1")]
    [InlineData("\"atLeast\": 1, \"withinDays\": 7, \"after\"", "\"atLeast\": 1, \"after\"", "seed004_icp_pricing_followup_email", "qualificationRules[0].events[1].withinDays", "is required and must be positive")]
    [InlineData("\"fit\": [ \"target_industry\" ]", "\"fit\": [ \"target_segment\" ]", "seed004_live_webinar_slide_deck", "qualificationRules[1].fit[0]", "unknown condition 'target_segment'")]
    [InlineData("\"tier\": \"mql\"\n    },\n    {", "\"tier\": \"warm\"\n    },\n    {", "seed004_icp_pricing_followup_email", "qualificationRules[0].tier", "must be 'mql_light', 'mql' or 'hot'")]
    [InlineData("\"reason\": \"Attended a webinar live, then requested the slide deck, from a target segment\"", "\"reason\": \" \"", "seed004_live_webinar_slide_deck", "qualificationRules[1].reason", "is required")]
    [InlineData("\"id\": \"seed004_live_webinar_slide_deck\"", "\"id\": \"page_pricing\"", "page_pricing", "qualificationRules[1].id", "duplicate rule id 'page_pricing'")]
    public void Given_a_qualification_rule_with_one_mistake_When_parsed_Then_it_is_rejected_naming_the_rule_the_field_and_why(
        string find, string replace, string ruleId, string field, string why)
    {
        Seed004Json.Should().Contain(find);
        ShouldReject(Seed004Json.Replace(find, replace, StringComparison.Ordinal), ruleId, field, why);
    }

    [Fact]
    public void Given_a_qualification_rule_without_events_When_parsed_Then_fit_alone_is_refused_as_a_definition()
    {
        var json = Seed004Json.Replace(
            "\"events\": [\n        { \"id\": \"attended\", \"eventType\": \"webinar_attended\", \"atLeast\": 1, \"withinDays\": 14 },\n        { \"id\": \"deck\", \"eventType\": \"content_downloaded\", \"atLeast\": 1, \"withinDays\": 14, \"after\": \"attended\" }\n      ],",
            "\"events\": [],", StringComparison.Ordinal);
        json.Should().NotBe(Seed004Json);

        ShouldReject(json, "seed004_live_webinar_slide_deck", "qualificationRules[1].events", "fit alone never qualifies");
    }

    [Fact]
    public void Given_a_new_model_version_with_other_minimums_When_loaded_Then_it_is_used_without_code_changes()
    {
        var json = DefaultJsonWith("\"version\": 3,", "\"version\": 4,")
            .Replace("\"minEngagementToEnter\": 15", "\"minEngagementToEnter\": 5", StringComparison.Ordinal)
            .Replace("\"minDistinctActions\": 2", "\"minDistinctActions\": 1", StringComparison.Ordinal);
        var v3 = ScoringModelLoader.Parse(json);

        var underV3 = Verdict(Lead(v3, PerfectFit, Ev("content_downloaded", T0)), T0, v3);
        var underV2 = Verdict(Lead(Default, PerfectFit, Ev("content_downloaded", T0)), T0);

        underV3.ModelVersion.Should().Be(4);
        underV3.IsMql.Should().BeTrue("v3 (data only) lets one download with a perfect fit qualify");
        underV2.IsMql.Should().BeFalse();
    }

    private static void ShouldReject(string json, string? ruleId, string field, string why)
    {
        var act = () => ScoringModelLoader.Parse(json);

        var error = act.Should().Throw<ModelValidationException>().Which.Errors.Should().ContainSingle().Subject;
        error.RuleId.Should().Be(ruleId);
        error.Field.Should().Be(field);
        error.Message.Should().Contain(why);
    }
}
