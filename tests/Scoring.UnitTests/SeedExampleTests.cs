using static ScoringPlatform.Scoring.UnitTests.TestModels;

namespace ScoringPlatform.Scoring.UnitTests;

/// <summary>The domain brief's examples, scored by the default model at the instant they happen (no decay yet).</summary>
public class SeedExampleTests
{
    [Theory]
    [InlineData("page_viewed", "pricing", 20)]
    [InlineData("form_submitted", "demo_request", 30)]
    [InlineData("form_submitted", "contact_sales", 30)]
    [InlineData("webinar_attended", null, 10)]
    [InlineData("webinar_registered", null, 5)]
    [InlineData("page_viewed", "blog", 2)]
    [InlineData("email_opened", null, 1)]
    [InlineData("email_clicked", null, 3)]
    [InlineData("content_downloaded", null, 8)]
    [InlineData("trial_started", null, 25)]
    [InlineData("page_viewed", "product", 5)]
    [InlineData("page_viewed", "case_study", 5)]
    [InlineData("unsubscribed", null, -20)]
    public void Given_one_engagement_event_When_scored_at_its_instant_Then_it_is_worth_the_seed_points(string type, string? category, double points)
    {
        var lead = Lead(events: Ev(type, T0, category));

        var verdict = Verdict(lead, T0);

        verdict.EngagementScore.Should().BeApproximately(points, 1e-9);
        verdict.Contributions.Should().ContainSingle().Which.RawPoints.Should().Be(points);
    }

    [Fact]
    public void Given_target_title_size_industry_and_geography_When_scored_Then_fit_is_15_plus_10_plus_10_plus_5()
    {
        var lead = Lead(profile: new LeadProfile("ana@acme.com", "Director of IT", 250, "Software", "US", null));

        var verdict = Verdict(lead, T0);

        verdict.FitScore.Should().Be(40);
        verdict.Contributions.Select(c => (c.RuleId, c.Contribution)).Should().BeEquivalentTo(new[]
        {
            ("fit_title", 15.0), ("fit_company_size", 10.0), ("fit_industry", 10.0), ("fit_geography", 5.0),
        });
        verdict.Contributions.Should().OnlyContain(c => c.Kind == RuleKind.Fit);
    }

    [Fact]
    public void Given_budget_authority_When_scored_Then_it_adds_its_fit_points()
    {
        Verdict(Lead(profile: new LeadProfile(null, null, null, null, null, true)), T0).FitScore.Should().Be(5);
        Verdict(Lead(profile: new LeadProfile(null, null, null, null, null, false)), T0).FitScore.Should().Be(0);
    }

    [Theory]
    [InlineData("Director", true)]
    [InlineData("Co-Founder & CTO", true)]
    [InlineData("Head of Growth", true)]
    [InlineData("Doctor", false)]
    [InlineData("Factory worker", false)]
    [InlineData("Marketing Associate", false)]
    public void Given_a_job_title_When_matched_against_target_titles_Then_whole_words_count_not_substrings(string title, bool matches)
    {
        var verdict = Verdict(Lead(profile: new LeadProfile(null, title, null, null, null, null)), T0);

        verdict.Contributions.Any(c => c.RuleId == "fit_title").Should().Be(matches);
    }

    [Fact]
    public void Given_a_competitor_employee_When_scored_Then_minus_50_and_disqualified_with_the_reason()
    {
        var lead = Lead(profile: new LeadProfile("spy@RivalScore.io", "VP Sales", 500, null, "US", null),
            events: [Demo(T0), Pricing(T0), Ev("trial_started", T0)]);

        var verdict = Verdict(lead, T0);

        verdict.Contributions.Should().Contain(c => c.RuleId == "neg_competitor" && c.Contribution == -50 && c.Kind == RuleKind.Negative);
        verdict.FitScore.Should().Be(15 + 10 + 5 - 50);
        verdict.TotalScore.Should().BeGreaterThan(50);
        verdict.IsMql.Should().BeFalse("a hard rule disqualifies regardless of points");
        verdict.Tier.Should().Be(MqlTier.None);
        verdict.Disqualification.Should().Be(new Disqualification("exclude_competitor", "Works for a competitor"));
    }

    [Fact]
    public void Given_a_personal_email_domain_When_scored_Then_minus_10_and_not_disqualified()
    {
        var verdict = Verdict(Lead(profile: new LeadProfile("ana@gmail.com", null, null, null, null, null)), T0);

        verdict.FitScore.Should().Be(-10);
        verdict.Disqualification.Should().BeNull();
    }

    [Fact]
    public void Given_a_job_seeker_title_When_scored_Then_minus_30()
    {
        var verdict = Verdict(Lead(profile: new LeadProfile(null, "Student, open to work", null, null, null, null)), T0);

        verdict.Contributions.Should().ContainSingle(c => c.RuleId == "neg_job_seeker").Which.Contribution.Should().Be(-30);
    }

    [Fact]
    public void Given_a_student_domain_When_scored_Then_negative_points_and_disqualified_as_student()
    {
        var verdict = Verdict(Lead(profile: new LeadProfile("bo@cs.mit.edu", null, null, null, null, null)), T0);

        verdict.Contributions.Should().Contain(c => c.RuleId == "neg_student" && c.Contribution == -25);
        verdict.Disqualification!.RuleId.Should().Be("exclude_student");
    }

    [Fact]
    public void Given_a_lead_outside_the_target_regions_When_scored_Then_the_must_have_rule_disqualifies_it()
    {
        var lead = Lead(profile: PerfectFit with { Country = "BR" }, events: [Demo(T0), Pricing(T0)]);

        var verdict = Verdict(lead, T0);

        verdict.IsMql.Should().BeFalse();
        verdict.Disqualification.Should().Be(new Disqualification("require_target_region", "Outside target regions"));
        verdict.TierReason.Should().Contain("require_target_region");
    }

    [Fact]
    public void Given_an_unknown_country_When_scored_Then_the_must_have_rule_does_not_disqualify()
    {
        Verdict(Lead(profile: GoodFit), T0).Disqualification.Should().BeNull();
    }

    [Fact]
    public void Given_a_must_have_rule_declared_to_fail_on_unknown_When_the_field_is_missing_Then_it_disqualifies()
    {
        var model = DefaultWith("\"reason\": \"Outside target regions\"", "\"reason\": \"Outside target regions\", \"disqualifyWhenUnknown\": true");

        Verdict(Lead(model, GoodFit), T0, model).Disqualification!.RuleId.Should().Be("require_target_region");
        Verdict(Lead(model, GoodFit with { Country = "us" }), T0, model).Disqualification.Should().BeNull();
    }

    [Fact]
    public void Given_an_unsubscribe_When_time_passes_Then_its_penalty_does_not_decay()
    {
        var lead = Lead(events: Ev("unsubscribed", T0));

        Verdict(lead, T0.AddDays(300)).EngagementScore.Should().Be(-20);
    }

    [Fact]
    public void Given_many_downloads_When_scored_Then_downloads_alone_never_make_an_mql()
    {
        var events = Enumerable.Range(0, 40).Select(i => Ev("content_downloaded", T0.AddMinutes(i), activity: $"ebook-{i}")).ToArray();
        var lead = Lead(profile: PerfectFit, events: events);

        var verdict = Verdict(lead, T0.AddHours(1));

        // The last download (minute 39) topped the group up to its cap; it has decayed for 21 minutes since.
        var content = 30 * Math.Pow(2, -TimeSpan.FromMinutes(21).TotalDays / 30);
        verdict.Groups.Single(g => g.GroupId == "content").Score.Should().BeApproximately(content, 1e-9);
        verdict.Groups.Single(g => g.GroupId == "content").Uncapped.Should().BeGreaterThan(300);
        verdict.TotalScore.Should().BeApproximately(45 + content, 1e-9, "fit plus the capped download group");
        verdict.IsMql.Should().BeFalse("DESIGN.md, Domain: downloads are an input, never an automatic MQL - one kind of action, even with a perfect fit");
        var withoutFit = Verdict(Lead(events: events), T0.AddHours(1));
        withoutFit.IsMql.Should().BeFalse("downloads are an input, never an automatic MQL");
    }

    [Theory]
    [InlineData("page_viewed", "careers", UnscoredReason.NoRuleForCategory)]
    [InlineData("page_viewed", null, UnscoredReason.NoRuleForCategory)]
    [InlineData("lead_teleported", null, UnscoredReason.UnknownEventType)]
    [InlineData("profile_updated", null, UnscoredReason.ProfileEvent)]
    public void Given_an_unknown_or_irrelevant_event_When_applied_Then_it_contributes_nothing_and_is_reported_not_thrown(
        string type, string? category, UnscoredReason reason)
    {
        var lead = Lead();

        var result = lead.Apply(Ev(type, T0, category), Default);

        result.Should().Be(new ApplyResult(ApplyOutcome.Unscored, null, 0, reason));
        var verdict = Verdict(lead, T0);
        verdict.TotalScore.Should().Be(0);
        verdict.UnscoredEvents.Should().Be(1);
        verdict.Contributions.Should().BeEmpty();
    }

    [Fact]
    public void Given_a_model_rule_on_a_custom_event_name_When_a_website_reports_that_action_Then_it_scores_by_name()
    {
        // Seed 004: an MQL "attends live, requests the slide deck, is from a target segment"; websites report such
        // actions as Segment track calls with their own names, which arrive as custom_event with properties.eventName.
        var model = DefaultWith(
            "{ \"id\": \"webinar_attended\",",
            "{ \"id\": \"slide_deck\", \"group\": \"events\", \"eventType\": \"custom_event\", \"categories\": [ \"Slide Deck Requested\" ], \"points\": 12 },\n    { \"id\": \"webinar_attended\",");

        Lead(model).Apply(Ev("custom_event", T0, "slide deck requested"), model)
            .Should().Be(new ApplyResult(ApplyOutcome.Counted, "slide_deck", 12, UnscoredReason.None));
        Lead(model).Apply(Ev("custom_event", T0, "Added to Cart"), model)
            .Should().Be(new ApplyResult(ApplyOutcome.Unscored, null, 0, UnscoredReason.NoRuleForCategory));
        Lead().Apply(Ev("custom_event", T0, "Slide Deck Requested"), Default)
            .Should().Be(new ApplyResult(ApplyOutcome.Unscored, null, 0, UnscoredReason.NoRuleForEventType), "the default model scores no custom event");
    }

    [Fact]
    public void Given_a_scored_event_When_applied_Then_the_result_names_the_rule_and_its_points()
    {
        Lead().Apply(Pricing(T0), Default).Should().Be(new ApplyResult(ApplyOutcome.Counted, "page_pricing", 20, UnscoredReason.None));
    }

    [Fact]
    public void Given_a_verdict_When_made_Then_it_carries_the_model_id_and_version()
    {
        var model = DefaultWith("\"version\": 3", "\"version\": 7");

        var verdict = Verdict(Lead(model, events: Pricing(T0)), T0, model);

        (verdict.ModelId, verdict.ModelVersion).Should().Be(("default", 7));
    }

    [Fact]
    public void Given_a_state_built_with_one_model_version_When_used_with_another_Then_it_refuses_instead_of_mixing_them()
    {
        var lead = Lead(events: Pricing(T0));
        var v4 = DefaultWith("\"version\": 3", "\"version\": 4");

        var act = () => lead.Apply(Pricing(T0), v4);

        act.Should().Throw<ModelMismatchException>().WithMessage("*'default' v3*'default' v4*replay*");
        FluentActions.Invoking(() => Scorer.Evaluate(lead, v4, T0)).Should().Throw<ModelMismatchException>();
    }
}
