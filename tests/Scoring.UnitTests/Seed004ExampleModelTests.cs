using static ScoringPlatform.Scoring.UnitTests.TestModels;

namespace ScoringPlatform.Scoring.UnitTests;

/// <summary>
/// services/Scoring/Models/examples/seed-004-b2b.json: seed 004's rule-based MQL definitions as data, loaded and used
/// without code changes. The rules' wording is quoted from seed 004 (as issue 8 and DESIGN.md quote it).
/// </summary>
public class Seed004ExampleModelTests
{
    private static readonly ScoringModel Model =
        ScoringModelLoader.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "examples", "seed-004-b2b.json")));

    /// <summary>Industry + company size (the ICP), no title and no country: fit 20, too little for the points path.</summary>
    private static readonly LeadProfile Icp = new("kim@acme.com", "Analyst", 400, "Computer Software", null, null);

    private static LeadScoreState LeadWith(LeadProfile profile, params ScoringEvent[] events) => Lead(Model, profile, events);

    [Fact]
    public void Given_the_example_model_When_loaded_Then_it_validates_and_declares_both_seed_rules()
    {
        Model.Id.Should().Be("seed-004-b2b");
        Model.QualificationRules.Select(r => r.Id).Should().Equal("seed004_icp_pricing_followup_email", "seed004_live_webinar_slide_deck");
    }

    [Fact]
    public void Given_an_icp_lead_that_visits_pricing_then_opens_a_follow_up_email_within_7_days_Then_the_rule_qualifies_it()
    {
        // Seed 004: "matches ICP (industry + company size) and visits the pricing or integration pages within 7 days
        // and opens at least one follow-up email".
        var lead = LeadWith(Icp, Pricing(T0), Ev("email_opened", T0.AddDays(2), activity: "follow-up-1"));
        var asOf = T0.AddDays(3);

        var points = Verdict(lead, asOf, Model);
        var transition = lead.UpdateStage(asOf, Model);

        points.TotalScore.Should().BeLessThan(50, "the points alone would not qualify this lead");
        points.IsMql.Should().BeTrue();
        points.QualifiedBy.Should().Be("seed004_icp_pricing_followup_email");
        points.Tier.Should().Be(MqlTier.Mql);
        points.TierReason.Should().Contain("seed004_icp_pricing_followup_email").And.Contain("follow-up email");
        transition!.Reason.Should().StartWith("qualification rule 'seed004_icp_pricing_followup_email'");
    }

    [Fact]
    public void Given_an_integration_page_visit_instead_of_pricing_When_followed_by_an_open_Then_the_rule_qualifies_it()
    {
        var lead = LeadWith(Icp, Ev("page_viewed", T0, "product", "/integrations/salesforce"), Ev("email_opened", T0.AddHours(3)));

        Verdict(lead, T0.AddHours(4), Model).QualifiedBy.Should().Be("seed004_icp_pricing_followup_email");
    }

    [Fact]
    public void Given_the_email_opened_before_the_pricing_visit_When_evaluated_Then_it_is_not_a_follow_up_and_does_not_qualify()
    {
        var lead = LeadWith(Icp, Ev("email_opened", T0), Pricing(T0.AddDays(1)));

        Verdict(lead, T0.AddDays(2), Model).IsMql.Should().BeFalse();
    }

    [Fact]
    public void Given_the_visit_and_open_more_than_7_days_before_When_evaluated_Then_the_rule_no_longer_holds_and_the_lead_exits()
    {
        var lead = LeadWith(Icp, Pricing(T0), Ev("email_opened", T0.AddDays(1)));
        lead.UpdateStage(T0.AddDays(1), Model)!.Direction.Should().Be(StageDirection.EnteredMql);

        var exit = lead.UpdateStage(T0.AddDays(10), Model);

        Verdict(lead, T0.AddDays(8), Model).IsMql.Should().BeFalse();
        exit!.Direction.Should().Be(StageDirection.ExitedMql);
        exit.At.Should().Be(T0.AddDays(7), "the pricing visit left the 7-day window then");
    }

    [Fact]
    public void Given_a_lead_outside_the_icp_When_it_visits_pricing_and_opens_an_email_Then_the_rule_does_not_qualify_it()
    {
        var lead = LeadWith(Icp with { CompanySize = 12 }, Pricing(T0), Ev("email_opened", T0.AddDays(1)));

        Verdict(lead, T0.AddDays(2), Model).IsMql.Should().BeFalse();
    }

    [Fact]
    public void Given_a_target_segment_lead_that_attends_live_then_requests_the_slide_deck_Then_the_webinar_rule_qualifies_it()
    {
        // Seed 004: "attends live (not just registers), requests the slide deck, and is from a target segment".
        var lead = LeadWith(Icp with { CompanySize = 12 }, Ev("webinar_attended", T0, activity: "webinar-7"), Ev("content_downloaded", T0.AddHours(2), activity: "webinar-7-deck"));

        var verdict = Verdict(lead, T0.AddHours(3), Model);

        verdict.IsMql.Should().BeTrue();
        verdict.QualifiedBy.Should().Be("seed004_live_webinar_slide_deck");
    }

    [Fact]
    public void Given_a_lead_that_only_registered_When_it_requests_the_deck_Then_it_does_not_qualify()
    {
        var lead = LeadWith(Icp, Ev("webinar_registered", T0), Ev("content_downloaded", T0.AddHours(2)));

        Verdict(lead, T0.AddHours(3), Model).IsMql.Should().BeFalse("registering is not attending live");
    }

    [Fact]
    public void Given_the_deck_downloaded_before_attending_When_evaluated_Then_the_order_is_not_the_seeds_and_it_does_not_qualify()
    {
        var lead = LeadWith(Icp with { CompanySize = 12 }, Ev("content_downloaded", T0), Ev("webinar_attended", T0.AddHours(2)));

        Verdict(lead, T0.AddHours(3), Model).IsMql.Should().BeFalse();
    }

    [Fact]
    public void Given_a_competitor_that_meets_a_rule_When_evaluated_Then_hard_rules_still_win()
    {
        var lead = LeadWith(Icp with { Email = "kim@rivalscore.io" }, Pricing(T0), Ev("email_opened", T0.AddDays(1)));

        var verdict = Verdict(lead, T0.AddDays(2), Model);

        verdict.IsMql.Should().BeFalse();
        verdict.Disqualification!.RuleId.Should().Be("exclude_competitor");
    }
}
