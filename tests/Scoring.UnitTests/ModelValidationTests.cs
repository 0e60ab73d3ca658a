using static ScoringPlatform.Scoring.UnitTests.TestModels;

namespace ScoringPlatform.Scoring.UnitTests;

public class ModelValidationTests
{
    [Fact]
    public void Given_the_embedded_default_model_When_loaded_Then_it_is_default_v3_with_enter_50_and_exit_40()
    {
        var model = ScoringModel.Default;

        model.Id.Should().Be("default");
        model.Version.Should().Be(3, "v3: tier hysteresis and SLA windows (issue 9); v2: engagement required, caps without reservoir, rules beside points (issue 8)");
        model.EnterThreshold.Should().Be(50);
        model.ExitThreshold.Should().Be(40);
        model.Groups.Single(g => g.Id == "web").HalfLife.Should().Be(TimeSpan.FromDays(30));
        model.ToString().Should().Be("default v3");
    }

    [Fact]
    public void Given_the_embedded_default_model_When_loaded_Then_it_carries_the_design_briefs_example_weights()
    {
        var model = ScoringModel.Default;

        model.EngagementRules.ToDictionary(r => r.Id, r => r.Points).Should().Contain(new Dictionary<string, double>
        {
            ["page_pricing"] = 20, ["form_demo_request"] = 30, ["webinar_attended"] = 10, ["page_blog"] = 2, ["email_opened"] = 1,
        });
        model.ProfileRules.ToDictionary(r => r.Id, r => r.Points).Should().Contain(new Dictionary<string, double>
        {
            ["fit_title"] = 15, ["fit_company_size"] = 10, ["fit_industry"] = 10, ["fit_geography"] = 5,
            ["neg_competitor"] = -50, ["neg_personal_email"] = -10, ["neg_job_seeker"] = -30,
        });
    }

    [Fact]
    public void Given_a_model_document_When_parsed_from_a_stream_Then_it_equals_parsing_the_string()
    {
        using var stream = new MemoryStream(System.Text.Encoding.UTF8.GetBytes(Default.Json));

        var model = ScoringModelLoader.Parse(stream);

        model.EngagementRules.Should().BeEquivalentTo(Default.EngagementRules);
        model.Version.Should().Be(Default.Version);
    }

    [Theory]
    [InlineData("\"eventType\": \"email_opened\"", "\"eventType\": \"email_read\"", "email_opened", "engagementRules[13].eventType", "unknown event type 'email_read'")]
    [InlineData("{ \"id\": \"web\", \"halfLifeDays\": 30", "{ \"id\": \"web\", \"halfLifeDays\": 0", "web", "groups[0].halfLifeDays", "half-life must be positive")]
    [InlineData("{ \"id\": \"email\", \"halfLifeDays\": 30, \"cap\": 10 }", "{ \"id\": \"email\", \"halfLifeDays\": 30, \"cap\": -1 }", "email", "groups[4].cap", "cap must be zero or positive")]
    [InlineData("\"id\": \"page_product\"", "\"id\": \"page_pricing\"", "page_pricing", "engagementRules[1].id", "duplicate rule id 'page_pricing'")]
    [InlineData("\"id\": \"exclude_student\"", "\"id\": \"fit_title\"", "fit_title", "hardRules[1].id", "duplicate rule id 'fit_title'")]
    [InlineData("\"categories\": [ \"pricing\" ]", "\"categories\": [ \"pricng\" ]", "page_pricing", "engagementRules[0].categories", "unknown category 'pricng'")]
    [InlineData("\"group\": \"email\", \"eventType\": \"email_opened\"", "\"group\": \"mail\", \"eventType\": \"email_opened\"", "email_opened", "engagementRules[13].group", "unknown group 'mail'")]
    [InlineData("\"condition\": \"target_title\", \"points\": 15", "\"condition\": \"title\", \"points\": 15", "fit_title", "profileRules[0].condition", "unknown condition 'title'")]
    [InlineData("\"kind\": \"exclude\", \"condition\": \"competitor_domain\"", "\"kind\": \"ban\", \"condition\": \"competitor_domain\"", "exclude_competitor", "hardRules[0].kind", "must be 'exclude' or 'require'")]
    [InlineData("\"reason\": \"Works for a competitor\"", "\"reason\": \"\"", "exclude_competitor", "hardRules[0].reason", "is required")]
    [InlineData("[ \"form_demo_request\" ]", "[ \"form_demo\" ]", "form_demo", "tiers.hot.anyOf[0]", "unknown engagement rule 'form_demo'")]
    [InlineData("\"points\": 1, \"frequencyCap\": { \"perActivityPerDay\": 1 }", "\"points\": 1, \"frequencyCap\": { \"perActivityPerDay\": 0 }", "email_opened", "engagementRules[13].frequencyCap.perActivityPerDay", "must be between 1 and 4")]
    [InlineData("{ \"id\": \"opt_out\", \"cap\": 40 }", "{ \"id\": \"opt_out\", \"halfLifeDays\": 30, \"cap\": 40 }", "unsubscribed", "engagementRules[15].points", "must be in a group without half-life")]
    [InlineData("\"eventType\": \"sales_contacted\"", "\"eventType\": \"profile_updated\"", "sales_contacted", "engagementRules[9].eventType", "score them with profileRules")]
    [InlineData("\"eventType\": \"sales_contacted\"", "\"eventType\": \"identity_linked\"", "sales_contacted", "engagementRules[9].eventType", "carries no engagement")]
    [InlineData("\"eventType\": \"sales_contacted\"", "\"eventType\": \"custom_event\", \"categories\": [ \" \" ]", "sales_contacted", "engagementRules[9].categories", "must not be blank")]
    public void Given_a_model_with_one_mistake_When_parsed_Then_it_is_rejected_naming_the_rule_the_field_and_why(
        string find, string replace, string ruleId, string field, string why)
    {
        var act = () => ScoringModelLoader.Parse(DefaultJsonWith(find, replace));

        var error = act.Should().Throw<ModelValidationException>().Which.Errors.Should().ContainSingle().Subject;
        error.RuleId.Should().Be(ruleId);
        error.Field.Should().Be(field);
        error.Message.Should().Contain(why);
    }

    [Fact]
    public void Given_an_exit_threshold_above_the_enter_threshold_When_parsed_Then_it_is_rejected_as_breaking_hysteresis()
    {
        var act = () => ScoringModelLoader.Parse(DefaultJsonWith("\"exit\": 40", "\"exit\": 60"));

        act.Should().Throw<ModelValidationException>()
            .Which.Errors.Should().ContainSingle(e => e.Field == "thresholds.exit" && e.Message.Contains("exit threshold 60 is above enter threshold 50"));
    }

    [Fact]
    public void Given_several_mistakes_When_parsed_Then_every_one_is_reported_in_the_exception_message()
    {
        var json = DefaultJsonWith("\"exit\": 40", "\"exit\": 60")
            .Replace("\"id\": \"page_product\"", "\"id\": \"page_pricing\"")
            .Replace("\"halfLifeDays\": 30, \"cap\": 50", "\"halfLifeDays\": -2, \"cap\": 50");

        var act = () => ScoringModelLoader.Parse(json);

        var ex = act.Should().Throw<ModelValidationException>().Which;
        ex.Errors.Select(e => e.Field).Should().BeEquivalentTo("thresholds.exit", "engagementRules[1].id", "groups[0].halfLifeDays");
        ex.Message.Should().Contain("3 errors").And.Contain("rule 'page_pricing', engagementRules[1].id").And.Contain("rule 'web', groups[0].halfLifeDays");
    }

    [Fact]
    public void Given_a_misspelt_field_When_parsed_Then_it_is_rejected_with_its_json_path()
    {
        var act = () => ScoringModelLoader.Parse(DefaultJsonWith("\"halfLifeDays\": 30, \"cap\": 50", "\"halfLife\": 30, \"cap\": 50"));

        act.Should().Throw<ModelValidationException>()
            .Which.Errors.Should().ContainSingle(e => e.Field.StartsWith("$.groups[0]") && e.Message.Contains("halfLife"));
    }

    [Theory]
    [InlineData("")]
    [InlineData("{ not json")]
    [InlineData("null")]
    public void Given_something_that_is_not_a_model_When_parsed_Then_it_is_rejected_not_crashed(string json)
    {
        var act = () => ScoringModelLoader.Parse(json);

        act.Should().Throw<ModelValidationException>().Which.Errors.Should().NotBeEmpty();
    }

    [Fact]
    public void Given_an_empty_object_When_parsed_Then_missing_id_version_thresholds_and_rules_are_all_listed()
    {
        var act = () => ScoringModelLoader.Parse("{}");

        act.Should().Throw<ModelValidationException>()
            .Which.Errors.Select(e => e.Field).Should().Contain(["id", "version", "thresholds.enter", "thresholds.exit", "engagementRules"]);
    }

    [Fact]
    public void Given_a_bad_model_When_try_parsed_Then_it_returns_false_and_the_errors_and_no_model()
    {
        var ok = ScoringModelLoader.TryParse(DefaultJsonWith("\"version\": 3", "\"version\": 0"), out var model, out var errors);

        ok.Should().BeFalse();
        model.Should().BeNull();
        errors.Should().ContainSingle(e => e.Field == "version");
    }

    [Fact]
    public void Given_two_rules_matching_the_same_event_When_parsed_Then_the_ambiguity_is_rejected()
    {
        var act = () => ScoringModelLoader.Parse(DefaultJsonWith("\"categories\": [ \"product\" ]", "\"categories\": [ \"pricing\" ]"));

        act.Should().Throw<ModelValidationException>()
            .Which.Errors.Should().ContainSingle(e => e.RuleId == "page_product" && e.Message.Contains("'page_pricing' already matches page_viewed/pricing"));
    }

    [Fact]
    public void Given_a_condition_whose_list_is_empty_When_parsed_Then_it_is_rejected_naming_the_list()
    {
        var act = () => ScoringModelLoader.Parse(DefaultJsonWith("\"competitorDomains\": [ \"rivalscore.io\", \"leadrank.com\", \"qualifyhq.com\" ]", "\"competitorDomains\": []"));

        act.Should().Throw<ModelValidationException>()
            .Which.Errors.Select(e => e.RuleId).Should().BeEquivalentTo("neg_competitor", "exclude_competitor");
    }
}
