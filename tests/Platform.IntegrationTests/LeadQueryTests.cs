using System.Net;
using System.Text.Json;
using Grpc.Core;
using Npgsql;
using ScoringPlatform.Api.V1;
using ScoringPlatform.Contracts;
using ScoringPlatform.Leads.Lifecycle;
using ScoringPlatform.Scoring.Lifecycle;
using ScoringPlatform.TestSupport;

namespace ScoringPlatform.Platform.IntegrationTests;

/// <summary>
/// Lead lists and timelines through the Api, over views and outbox rows the real projection wrote. Seeds: "SLA: sales
/// should follow up within a window (typically 4-24 h; Hot MQL fastest)"; "Hot MQL (...): immediate attention".
/// </summary>
public sealed class LeadQueryTests(LifecycleApiFixture fx) : IClassFixture<LifecycleApiFixture>
{
    private static readonly DateTimeOffset Start = DateTimeOffset.UtcNow.AddHours(-2);

    private async Task<List<LeadSummary>> AllPagesAsync(ListLeadsRequest request)
    {
        var all = new List<LeadSummary>();
        var pages = 0;
        while (true)
        {
            var page = await fx.Queries().ListLeadsAsync(request);
            page.Leads.Count.Should().BeLessThanOrEqualTo(request.PageSize);
            all.AddRange(page.Leads);
            if (page.NextPageToken == "") return all;
            (++pages).Should().BeLessThan(1000);
            request = request.Clone();
            request.PageToken = page.NextPageToken;
        }
    }

    [Fact]
    public async Task Newest_MQLs_come_first_and_paging_neither_repeats_nor_skips_a_lead()
    {
        // Six MQLs, entered a minute apart (the third the newest); the projection sets their entry instants.
        var offsets = new[] { 5, 1, 6, 3, 2, 4 };
        var leads = new List<string>();
        foreach (var minutes in offsets) leads.Add(await fx.MqlAsync(Start.AddMinutes(minutes)));
        foreach (var lead in leads) await fx.ViewWhen(lead, v => v.Stage == LifecycleStage.Mql);

        var paged = await AllPagesAsync(new ListLeadsRequest { Stage = LeadStage.Mql, OrderBy = LeadOrder.NewestMql, PageSize = 2 });
        var single = (await fx.Queries().ListLeadsAsync(new ListLeadsRequest { Stage = LeadStage.Mql, OrderBy = LeadOrder.NewestMql, PageSize = 500 })).Leads;

        paged.Select(l => l.LeadId).Should().OnlyHaveUniqueItems().And.Equal(single.Select(l => l.LeadId));
        paged.Should().OnlyContain(l => l.Stage == LeadStage.Mql);
        paged.Select(l => l.MqlEnteredAt.ToDateTimeOffset()).Should().BeInDescendingOrder();
        var expected = leads.Zip(offsets).OrderByDescending(x => x.Second).Select(x => x.First).ToList();
        paged.Select(l => l.LeadId).Where(leads.Contains).Should().Equal(expected);
        paged.First(l => l.LeadId == leads[0]).Sla.Deadline.Should().NotBeNull("an MQL's follow-up deadline runs");
        paged.Should().OnlyContain(l => l.Scores == null, "scores only on request");

        var scored = await fx.Queries().ListLeadsAsync(new ListLeadsRequest { Stage = LeadStage.Mql, PageSize = 500, IncludeScores = true });
        var mine = scored.Leads.First(l => l.LeadId == leads[0]).Scores;
        mine.TotalScore.Should().BeGreaterThanOrEqualTo(40, "fit 40 plus decayed engagement (an MQL entered at 50 and exits below 40)");
        mine.FitScore.Should().BeGreaterThan(0);
    }

    [Fact]
    public async Task SLA_due_soonest_first_puts_Hot_MQLs_before_older_plain_MQLs_and_filters_by_tier()
    {
        var plain = await fx.MqlAsync(Start);
        var hotLater = await fx.HotMqlAsync(Start.AddMinutes(30));
        var hotEarlier = await fx.HotMqlAsync(Start.AddMinutes(10));
        foreach (var lead in new[] { plain, hotLater, hotEarlier }) await fx.ViewWhen(lead, v => v.Stage == LifecycleStage.Mql);

        var byDeadline = await AllPagesAsync(new ListLeadsRequest { Stage = LeadStage.Mql, OrderBy = LeadOrder.SlaDue, PageSize = 1 });

        byDeadline.Select(l => l.LeadId).Should().OnlyHaveUniqueItems();
        byDeadline.Select(l => l.LeadId).Where(new[] { plain, hotLater, hotEarlier }.Contains)
            .Should().Equal([hotEarlier, hotLater, plain], "Hot MQL's 4 h window ends before the plain MQL's 24 h one");
        var withDeadline = byDeadline.Where(l => l.Sla is { Met: false, Breached: false }).Select(l => l.Sla.Deadline.ToDateTimeOffset()).ToList();
        withDeadline.Should().BeInAscendingOrder();

        var hot = await AllPagesAsync(new ListLeadsRequest { Stage = LeadStage.Mql, Tier = MqlTier.HotMql, OrderBy = LeadOrder.SlaDue, PageSize = 50 });
        hot.Should().OnlyContain(l => l.Tier == MqlTier.HotMql);
        hot.Select(l => l.LeadId).Should().Contain([hotEarlier, hotLater]).And.NotContain(plain);
    }

    [Fact]
    public async Task An_accepted_lead_is_listed_as_SAL_with_its_SLA_met()
    {
        var lead = await fx.HotMqlAsync(Start);
        await fx.Feedback().RecordSalesFeedbackAsync(new RecordSalesFeedbackRequest
        {
            LeadId = lead, Action = SalesActionType.Accept, Actor = "rep-ada", IdempotencyKey = "call-1",
        });
        await fx.ViewWhen(lead, v => v.Stage == LifecycleStage.Sal);

        var sal = await AllPagesAsync(new ListLeadsRequest { Stage = LeadStage.Sal, PageSize = 100 });

        var item = sal.Should().ContainSingle(l => l.LeadId == lead).Which;
        item.Sla.Met.Should().BeTrue();
        item.Sla.Tier.Should().Be(MqlTier.HotMql);
    }

    [Fact]
    public async Task The_timeline_holds_the_events_the_transitions_with_causes_and_the_feedback_over_gRPC_and_REST()
    {
        var lead = await fx.HotMqlAsync(Start);
        await fx.ViewWhen(lead, v => v.Stage == LifecycleStage.Mql);
        await fx.Feedback().RecordSalesFeedbackAsync(new RecordSalesFeedbackRequest
        {
            LeadId = lead, Action = SalesActionType.Accept, Actor = "rep-ada", IdempotencyKey = "call-1", Reason = "called back",
        });

        var timeline = await TestSupport.Eventually.Get(
            async () => await fx.Queries().GetLeadTimelineAsync(new GetLeadTimelineRequest { LeadId = lead }),
            t => t.Transitions.Count >= 2, TimeSpan.FromSeconds(60), "the timeline's transitions");

        timeline.Events.Select(e => e.Type).Should().Equal("ProfileUpdated", "EngagementRecorded", "SalesFeedbackRecorded");
        timeline.Events[1].Category.Should().Be("demo_request");
        timeline.Events[0].ScoreChange.FitAfter.Should().BeGreaterThan(0, "the fit profile scores");
        var demo = timeline.Events[1].ScoreChange;
        demo.TotalBefore.Should().Be(timeline.Events[0].ScoreChange.TotalAfter);
        demo.TotalAfter.Should().BeGreaterThanOrEqualTo(50).And.BeGreaterThan(demo.TotalBefore, "the demo request adds points");
        timeline.Events[2].ScoreChange.Should().BeNull("sales feedback does not change the score");
        var feedback = timeline.Events[2].Feedback;
        feedback.Action.Should().Be(SalesActionType.Accept);
        feedback.Actor.Should().Be("rep-ada");
        feedback.Reason.Should().Be("called back");
        timeline.Transitions.Select(t => t.Type).Should().Equal(LifecycleMessageTypes.MqlCrossed, LifecycleMessageTypes.SalesAccepted);
        timeline.Transitions[0].CauseKind.Should().NotBeEmpty();
        timeline.Transitions[0].Score.Should().BeGreaterThanOrEqualTo(50);
        timeline.Transitions[0].Tier.Should().Be("HotMql");
        timeline.Transitions[1].Actor.Should().Be("rep-ada");
        timeline.Transitions[1].ToStage.Should().Be("Sal");
        timeline.EventsTruncated.Should().BeFalse();

        using var http = fx.Api.CreateClient();
        using var rest = await http.GetAsync($"/v1/leads/{lead}/timeline");
        rest.StatusCode.Should().Be(HttpStatusCode.OK, await rest.Content.ReadAsStringAsync());
        using var body = JsonDocument.Parse(await rest.Content.ReadAsStringAsync());
        body.RootElement.GetProperty("transitions").GetArrayLength().Should().Be(2);
        body.RootElement.GetProperty("events")[2].GetProperty("feedback").GetProperty("actor").GetString().Should().Be("rep-ada");

        var capped = await fx.Queries().GetLeadTimelineAsync(new GetLeadTimelineRequest { LeadId = lead, MaxItems = 1 });
        capped.Events.Should().ContainSingle().Which.Type.Should().Be("SalesFeedbackRecorded");
        capped.EventsTruncated.Should().BeTrue();
        capped.Transitions.Should().ContainSingle().Which.Type.Should().Be(LifecycleMessageTypes.SalesAccepted);
        capped.TransitionsTruncated.Should().BeTrue();
    }

    [Fact]
    public async Task A_timeline_reads_its_leads_transitions_through_the_lead_index_not_by_scanning_the_outbox()
    {
        var lead = await fx.MqlAsync(Start);
        await fx.ViewWhen(lead, v => v.Stage == LifecycleStage.Mql);
        (await fx.Queries().GetLeadTimelineAsync(new GetLeadTimelineRequest { LeadId = lead })).Transitions.Should().NotBeEmpty();

        await using var connection = new NpgsqlConnection(TestEnvironment.PostgresConnectionString);
        await connection.OpenAsync();
        // This outbox is small enough for a sequential scan to be the cheapest plan; with scans off the planner shows
        // which index can serve the query (without the lead index: the primary key's, filtering every row by lead).
        await using (var scansOff = new NpgsqlCommand("set enable_seqscan = off", connection)) await scansOff.ExecuteNonQueryAsync();
        var positional = LifecycleOutbox.NewestOfLeadSql(fx.Schema).Split('?');
        positional.Should().HaveCount(3, "the query takes the lead id and a row count");
        await using var explain = new NpgsqlCommand($"explain {positional[0]}$1{positional[1]}$2{positional[2]}", connection);
        explain.Parameters.Add(new NpgsqlParameter { Value = lead });
        explain.Parameters.Add(new NpgsqlParameter { Value = 51 });
        var plan = new List<string>();
        await using (var reader = await explain.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync()) plan.Add(reader.GetString(0));
        }

        // An index scan (backward, for the order) or a bitmap scan of it with a sort, by the planner's estimate.
        string.Join('\n', plan).Should().Contain($" {LifecycleOutbox.LeadIndexName} ").And.NotContain("Seq Scan");
    }

    [Fact]
    public async Task Swagger_describes_the_feedback_list_and_timeline_routes_with_their_409()
    {
        using var http = fx.Api.CreateClient();
        using var doc = JsonDocument.Parse(await http.GetStringAsync("/swagger/v1/swagger.json"));
        var paths = doc.RootElement.GetProperty("paths");

        var feedback = paths.GetProperty("/v1/leads/{lead_id}/feedback").GetProperty("post");
        feedback.GetProperty("responses").TryGetProperty("409", out _).Should().BeTrue();
        feedback.TryGetProperty("requestBody", out _).Should().BeTrue();
        paths.GetProperty("/v1/leads").TryGetProperty("get", out _).Should().BeTrue();
        paths.GetProperty("/v1/leads/{lead_id}/timeline").TryGetProperty("get", out _).Should().BeTrue();
    }

    [Fact]
    public async Task REST_lists_leads_and_bad_queries_are_INVALID_ARGUMENT()
    {
        var lead = await fx.MqlAsync(Start);
        await fx.ViewWhen(lead, v => v.Stage == LifecycleStage.Mql);
        using var http = fx.Api.CreateClient();

        using var ok = await http.GetAsync("/v1/leads?stage=LEAD_STAGE_MQL&orderBy=LEAD_ORDER_SLA_DUE&pageSize=500");
        ok.StatusCode.Should().Be(HttpStatusCode.OK, await ok.Content.ReadAsStringAsync());
        using var body = JsonDocument.Parse(await ok.Content.ReadAsStringAsync());
        body.RootElement.GetProperty("leads").EnumerateArray().Select(l => l.GetProperty("leadId").GetString()).Should().Contain(lead);

        (await http.GetAsync("/v1/leads?pageToken=not-a-token")).StatusCode.Should().Be(HttpStatusCode.BadRequest);
        (await http.GetAsync("/v1/leads?pageSize=501")).StatusCode.Should().Be(HttpStatusCode.BadRequest);
        var call = async () => await fx.Queries().GetLeadTimelineAsync(new GetLeadTimelineRequest { LeadId = "nobody-" + Guid.NewGuid() });
        (await call.Should().ThrowAsync<RpcException>()).Which.StatusCode.Should().Be(StatusCode.NotFound);
    }
}
