using static ScoringPlatform.Scoring.UnitTests.TestModels;

namespace ScoringPlatform.Scoring.UnitTests;

/// <summary>
/// Scenarios written from the seeds' own words (as DESIGN.md, "The domain", summarises them) and from issue 8's
/// reproductions, scored by the default model v2.
/// </summary>
public class SeedScenarioTests
{
    private static readonly LeadProfile FitTraits = new("cto@acme-industries.com", "CTO", 400, "software", "US", null);

    [Fact]
    public void Given_a_perfect_fit_that_engaged_once_five_years_ago_When_evaluated_Then_it_is_not_an_mql()
    {
        // DESIGN.md, Domain: "An MQL has engaged: fit says who, engagement says when, and fit alone never qualifies or holds a lead."
        var lead = Lead(profile: PerfectFit, events: [Demo(T0), Pricing(T0)]);
        lead.UpdateStage(T0, Default).Should().NotBeNull();

        var asOf = T0.AddYears(5);
        var verdict = Verdict(lead, asOf);
        var exit = lead.UpdateStage(asOf, Default);

        verdict.TotalScore.Should().BeGreaterThan(Default.ExitThreshold, "fit 45 alone is above the exit threshold");
        verdict.IsMql.Should().BeFalse();
        verdict.TierReason.Should().Contain("fit alone never");
        exit!.Direction.Should().Be(StageDirection.ExitedMql);
        exit.Reason.Should().Contain("engagement");
        exit.At.Should().BeCloseTo(T0 + HalfLife * Math.Log2(50.0 / 5), TimeSpan.FromSeconds(1), "50 engagement points fall below 5 after log2(10) half-lives");
    }

    [Theory]
    [InlineData("content_downloaded", null)]
    [InlineData("page_viewed", "product")]
    [InlineData("webinar_attended", null)]
    [InlineData("page_viewed", "pricing")]
    public void Given_a_perfect_fit_and_one_small_action_When_evaluated_Then_it_is_not_an_mql(string type, string? category)
    {
        // DESIGN.md, Domain: "Downloads are an input, never an automatic MQL" (issue 8: one download gave fit 45 + 8 = 53, an MQL).
        var verdict = Verdict(Lead(profile: PerfectFit, events: Ev(type, T0, category)), T0);

        verdict.TotalScore.Should().BeGreaterThanOrEqualTo(50);
        verdict.IsMql.Should().BeFalse();
        verdict.QualifiedBy.Should().BeNull();
    }

    [Fact]
    public void Given_a_blog_only_reader_with_a_perfect_fit_When_evaluated_Then_it_is_never_an_mql()
    {
        // DESIGN.md, Domain: blog visit +2 is an input; seeds: blog-only readers are not MQLs.
        var events = Enumerable.Range(0, 30).Select(i => Ev("page_viewed", T0.AddHours(i), "blog", $"/blog/{i}")).ToArray();

        var verdict = Verdict(Lead(profile: PerfectFit, events: events), T0.AddDays(2));

        verdict.EngagementScore.Should().BeGreaterThan(15);
        verdict.IsMql.Should().BeFalse();
        verdict.TierReason.Should().Contain("distinct engagement action");
    }

    [Fact]
    public void Given_a_good_fit_lead_that_requests_a_demo_When_evaluated_Then_the_hand_raiser_qualifies_at_once_as_hot()
    {
        // DESIGN.md, Domain: "Hot MQL (demo request ... with fit: immediate attention)"; README: fit 40 + demo 30 is a Hot MQL.
        var lead = Lead(profile: FitTraits, events: Demo(T0));

        var transition = lead.UpdateStage(T0, Default);
        var verdict = Verdict(lead, T0);

        verdict.FitScore.Should().Be(40);
        verdict.IsMql.Should().BeTrue();
        verdict.Tier.Should().Be(MqlTier.HotMql);
        verdict.QualifiedBy.Should().Be(Scorer.ThresholdQualifier);
        transition!.Reason.Should().Contain("enter threshold 50");
    }

    [Fact]
    public void Given_pricing_demo_and_contact_sales_without_a_profile_When_evaluated_Then_it_crosses_mql()
    {
        // The end-to-end tests' crossing: 20 + 30 + 30 engagement, three actions.
        var lead = Lead(events: [Pricing(T0), Demo(T0), Ev("form_submitted", T0, "contact_sales")]);

        lead.UpdateStage(T0, Default)!.Direction.Should().Be(StageDirection.EnteredMql);
        Verdict(lead, T0).Tier.Should().Be(MqlTier.MqlLight, "engagement without fit: nurture");
    }

    [Fact]
    public void Given_an_mql_When_a_profile_update_shows_a_competitor_domain_Then_it_is_disqualified_at_once()
    {
        // DESIGN.md, Domain: hard rules exclude competitors regardless of points.
        var lead = Lead(profile: FitTraits, events: [Demo(T0), Pricing(T0)]);
        lead.UpdateStage(T0, Default);

        lead.ApplyProfile(new LeadProfile("cto@rivalscore.io", null, null, null, null, null), Default, T0.AddMinutes(5));
        var exit = lead.UpdateStage(T0.AddMinutes(5), Default);

        exit!.Direction.Should().Be(StageDirection.ExitedMql);
        exit.At.Should().Be(T0.AddMinutes(5));
        exit.Reason.Should().Contain("exclude_competitor");
    }

    [Theory]
    [InlineData("Student")]
    [InlineData("Computer Science Student")]
    [InlineData("Marketing Intern")]
    [InlineData("PhD Candidate")]
    public void Given_a_student_by_job_title_with_heavy_engagement_When_evaluated_Then_it_is_never_an_mql(string title)
    {
        // DESIGN.md, Domain: exclusions (competitors, students, ...) disqualify regardless of points.
        var events = new[] { Demo(T0), Pricing(T0), Ev("form_submitted", T0, "contact_sales"), Ev("webinar_attended", T0) };
        var verdict = Verdict(Lead(profile: new LeadProfile("sam@acme.com", title, 400, "software", "US", null), events: events), T0);

        verdict.IsMql.Should().BeFalse();
        verdict.Disqualification!.RuleId.Should().Be("exclude_student_title");
    }

    [Theory]
    [InlineData("Open to work")]
    [InlineData("Seeking new opportunities")]
    public void Given_a_job_seeker_by_title_When_evaluated_Then_minus_30_and_disqualified(string title)
    {
        // DESIGN.md, Domain: "job-seeker title -30"; issue 8: exclusions for job seekers by title, as declared hard rules.
        var verdict = Verdict(Lead(profile: new LeadProfile(null, title, null, null, null, null), events: [Demo(T0), Pricing(T0)]), T0);

        verdict.Contributions.Should().Contain(c => c.RuleId == "neg_job_seeker" && c.Contribution == -30);
        verdict.Disqualification!.RuleId.Should().Be("exclude_job_seeker");
    }

    [Theory]
    [InlineData("US")]
    [InlineData("us")]
    [InlineData("USA")]
    [InlineData("U.S.A.")]
    [InlineData("United States")]
    [InlineData("United States of America")]
    [InlineData("UK")]
    [InlineData("United Kingdom")]
    [InlineData("England")]
    [InlineData("Germany")]
    [InlineData("DEU")]
    [InlineData("Deutschland")]
    [InlineData("  the Netherlands ")]
    public void Given_a_target_country_as_people_type_it_When_scored_Then_it_matches_the_region(string country)
    {
        // Issue 8: 'United States', 'USA', 'UK', 'Germany' were disqualified as 'Outside target regions'.
        var verdict = Verdict(Lead(profile: new LeadProfile(null, null, null, null, country, null)), T0);

        verdict.Disqualification.Should().BeNull();
        verdict.Contributions.Should().ContainSingle(c => c.RuleId == "fit_geography");
    }

    [Theory]
    [InlineData("Brazil")]
    [InlineData("BRA")]
    [InlineData("Korea, Republic of")]
    [InlineData("South Korea")]
    public void Given_a_country_outside_the_targets_by_any_name_When_scored_Then_the_must_have_rule_disqualifies(string country)
    {
        Verdict(Lead(profile: new LeadProfile(null, null, null, null, country, null)), T0)
            .Disqualification!.RuleId.Should().Be("require_target_region");
    }

    [Fact]
    public void Given_a_country_nobody_knows_When_scored_Then_it_is_unknown_no_points_and_no_disqualification()
    {
        var verdict = Verdict(Lead(profile: new LeadProfile(null, null, null, null, "Narnia", null)), T0);

        verdict.Disqualification.Should().BeNull();
        verdict.FitScore.Should().Be(0);
    }

    [Theory]
    [InlineData("software")]
    [InlineData("Computer Software")]
    [InlineData("SaaS")]
    [InlineData("Information Technology & Services")]
    [InlineData("Banking")]
    [InlineData("Hospital & Health Care")]
    public void Given_an_industry_as_enrichment_vendors_spell_it_When_scored_Then_the_synonym_map_matches_it(string industry)
    {
        // DESIGN.md, Domain: "right industry +10"; issue 8: 'Computer Software' got no industry points.
        Verdict(Lead(profile: new LeadProfile(null, null, null, industry, null, null)), T0)
            .Contributions.Should().ContainSingle(c => c.RuleId == "fit_industry" && c.Contribution == 10);
    }

    [Theory]
    [InlineData("SVP, Engineering", true)]
    [InlineData("EVP Operations", true)]
    [InlineData("Sr. Director of IT", true)]
    [InlineData("Dir. Marketing", true)]
    [InlineData("VP Sales", true)]
    [InlineData("Head of Data", true)]
    [InlineData("Owner", true)]
    [InlineData("Co-Founder & CTO", true)]
    [InlineData("Executive Assistant to the CEO", false)]
    [InlineData("Assistant to the VP of Sales", false)]
    [InlineData("Product Owner", false)]
    [InlineData("Senior Software Engineer", false)]
    [InlineData("Marketing Manager", false)]
    public void Given_a_job_title_as_people_type_it_When_scored_Then_seniority_is_parsed(string title, bool points)
    {
        // DESIGN.md, Domain: "right title +15" (job title/seniority); issue 8: SVP/EVP got nothing, assistants to the CEO +15.
        Verdict(Lead(profile: new LeadProfile(null, title, null, null, null, null)), T0)
            .Contributions.Any(c => c.RuleId == "fit_title" && c.Contribution == 15).Should().Be(points);
    }

    [Theory]
    [InlineData("page_viewed", "Pricing", 20)]
    [InlineData("page_viewed", "PRICING", 20)]
    [InlineData("form_submitted", "Demo_Request", 30)]
    [InlineData("Page_Viewed", "pricing", 20)]
    public void Given_a_category_or_form_type_in_another_case_When_applied_Then_it_scores_like_the_lower_case_one(string type, string category, double points)
    {
        // Issue 8: page category 'Pricing' scored 0.
        var result = Lead().Apply(Ev(type, T0, category), Default);

        result.Counted.Should().BeTrue();
        result.Points.Should().Be(points);
    }

    [Fact]
    public void Given_an_event_dated_in_the_year_9999_When_applied_Then_it_is_refused_and_verdicts_stay_finite()
    {
        // Issue 8: "An event dated in the year 9999 turns later verdicts into NaN."
        var lead = Lead(profile: GoodFit, events: [Pricing(T0), Demo(T0)]);

        var result = lead.Apply(Ev("page_viewed", new DateTimeOffset(9999, 1, 1, 0, 0, 0, TimeSpan.Zero), "pricing"), Default);

        result.Outcome.Should().Be(ApplyOutcome.Unscored);
        result.Reason.Should().Be(UnscoredReason.OccurredAtOutOfRange);
        foreach (var asOf in new[] { T0, T0.AddYears(100), DateTimeOffset.MaxValue, T0.AddDays(-1), DateTimeOffset.MinValue })
        {
            var verdict = Verdict(lead, asOf);
            double.IsFinite(verdict.TotalScore).Should().BeTrue($"as of {asOf:O}");
            verdict.Contributions.Should().OnlyContain(c => double.IsFinite(c.Contribution) && double.IsFinite(c.Decayed));
        }
    }

    [Fact]
    public void Given_an_mql_that_goes_cold_When_time_passes_Then_it_loses_points_every_day_and_falls_out_of_mql()
    {
        // DESIGN.md, Domain: "a lead that goes cold loses points and can fall out of MQL (recycled to nurture)".
        var lead = Lead(profile: GoodFit, events: [.. Enumerable.Range(0, 5).Select(i => Pricing(T0, $"/pricing/{i}")), Demo(T0)]);
        lead.UpdateStage(T0, Default)!.Direction.Should().Be(StageDirection.EnteredMql);

        var daily = Enumerable.Range(0, 60).Select(d => Scorer.TotalScore(lead, Default, T0.AddDays(d))).ToArray();

        daily.Should().BeInDescendingOrder().And.OnlyHaveUniqueItems("every quiet day costs points, caps hold nothing back");
        lead.UpdateStage(T0.AddDays(60), Default).Should().BeNull("25 + 80/4 = 45 is still above 40 after two half-lives");
        var exit = lead.UpdateStage(T0.AddDays(120), Default);
        exit!.Direction.Should().Be(StageDirection.ExitedMql);
        exit.At.Should().BeCloseTo(T0 + HalfLife * Math.Log2(80.0 / 15), TimeSpan.FromSeconds(1), "25 + 80·2^(−t/h) = 40");
    }
}
