using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using ScoringPlatform.Api.V1;
using ScoringPlatform.Leads;
using ScoringPlatform.Scoring.Lifecycle;
using ScoringPlatform.Leads.ReadModel;
using ScoringPlatform.Scoring;
using ScoringPlatform.TestSupport;

namespace ScoringPlatform.Platform.IntegrationTests;

/// <summary>
/// Sales feedback through the Api on the real event store. Seeds: "Lifecycle: Lead -> MQL -> SAL (sales accepted) -> SQL ->
/// converted; or recycled / disqualified, always with a reason and a timestamp" and "Closed loop: sales feedback
/// (accepted / rejected / recycled / converted + reason) is recorded".
/// </summary>
public sealed class SalesFeedbackTests(LifecycleApiFixture fx) : IClassFixture<LifecycleApiFixture>
{
    private static readonly DateTimeOffset Earlier = DateTimeOffset.UtcNow.AddHours(-1);

    private static RecordSalesFeedbackRequest Request(string lead, SalesActionType action, string? key = null, string reason = "", LeadStage expected = LeadStage.Unspecified) => new()
    {
        LeadId = lead,
        Action = action,
        Actor = "rep-ada",
        IdempotencyKey = key ?? Guid.NewGuid().ToString("N"),
        Reason = reason,
        ExpectedStage = expected,
    };

    private async Task<int> FeedbackEventsAsync(string lead) => (await fx.StreamAsync(lead)).Count(e => e.Data is SalesFeedbackRecorded);

    private static async Task<RpcException> Refused(Func<Task> call, StatusCode code)
    {
        var error = (await call.Should().ThrowAsync<RpcException>()).Which;
        error.StatusCode.Should().Be(code, error.Status.Detail);
        return error;
    }

    [Fact]
    public async Task Accept_qualify_convert_over_gRPC_moves_an_MQL_through_SAL_and_SQL_to_Converted_and_the_verdict_shows_the_SLA_met()
    {
        var lead = await fx.MqlAsync(Earlier);
        var client = fx.Feedback();

        var accepted = await client.RecordSalesFeedbackAsync(Request(lead, SalesActionType.Accept, expected: LeadStage.Mql));
        var qualified = await client.RecordSalesFeedbackAsync(Request(lead, SalesActionType.Qualify, reason: "budget confirmed", expected: LeadStage.Sal));
        var convert = Request(lead, SalesActionType.Convert, expected: LeadStage.Sql);
        convert.Amount = "12500.50";
        var converted = await client.RecordSalesFeedbackAsync(convert);

        accepted.Stage.Should().Be(LeadStage.Sal);
        accepted.TransitionKind.Should().Be(nameof(TransitionKind.SalesAccepted));
        accepted.Replay.Should().BeFalse();
        qualified.Stage.Should().Be(LeadStage.Sql);
        converted.Stage.Should().Be(LeadStage.Converted);
        converted.StreamVersion.Should().Be(6, "profile, pricing view and webinar, then three sales actions");

        var stored = (await fx.StreamAsync(lead)).Select(e => e.Data).OfType<SalesFeedbackRecorded>().ToList();
        stored.Select(s => s.Action).Should().Equal(SalesActionKind.Accept, SalesActionKind.Qualify, SalesActionKind.Convert);
        stored.Should().OnlyContain(s => s.Actor == "rep-ada");
        stored[1].Reason.Should().Be("budget confirmed");
        stored[2].Amount.Should().Be(12500.50m);

        var view = await fx.ViewWhen(lead, v => v.Stage == LifecycleStage.Converted);
        view.Sla!.Met.Should().BeTrue("the acceptance came within the follow-up window of the MQL entry");
        // The Api answers from memory, which follows the views' change feed a moment behind the document just read.
        var verdict = await Eventually.Get(async () => await fx.Scoring().GetVerdictAsync(new GetVerdictRequest { LeadId = lead }),
            v => v.Stage == LeadStage.Converted, TimeSpan.FromSeconds(30), $"the verdict of {lead} converted");
        verdict.Sla.Should().NotBeNull();
        verdict.Sla.Met.Should().BeTrue();
        verdict.Sla.Deadline.ToDateTimeOffset().Should().BeAfter(Earlier);
        verdict.Sla.MetAt.ToDateTimeOffset().Should().Be(accepted.OccurredAt.ToDateTimeOffset());
    }

    [Fact]
    public async Task Converting_a_lead_never_accepted_is_FAILED_PRECONDITION_naming_the_stage_and_writes_nothing()
    {
        var lead = await fx.MqlAsync(Earlier);

        var error = await Refused(() => fx.Feedback().RecordSalesFeedbackAsync(Request(lead, SalesActionType.Convert)).ResponseAsync, StatusCode.FailedPrecondition);

        error.Status.Detail.Should().Contain("Mql").And.Contain("converted");
        (await FeedbackEventsAsync(lead)).Should().Be(0);
        (await fx.StreamAsync(lead)).Should().HaveCount(3);
    }

    [Fact]
    public async Task Accepting_a_lead_that_is_not_an_MQL_is_FAILED_PRECONDITION_naming_the_stage_and_writes_nothing()
    {
        var lead = await fx.SeedAsync(Earlier, fit: false, ("page_viewed", "blog"));

        var error = await Refused(() => fx.Feedback().RecordSalesFeedbackAsync(Request(lead, SalesActionType.Accept)).ResponseAsync, StatusCode.FailedPrecondition);

        error.Status.Detail.Should().Contain("current stage: Lead");
        (await fx.StreamAsync(lead)).Should().ContainSingle();
    }

    [Fact]
    public async Task REST_accepts_feedback_as_JSON_and_answers_an_illegal_action_with_409_problem_json_naming_the_stage()
    {
        var lead = await fx.HotMqlAsync(Earlier);
        using var http = fx.Api.CreateClient();

        using var ok = await http.PostAsJsonAsync($"/v1/leads/{lead}/feedback", new
        {
            action = "SALES_ACTION_TYPE_ACCEPT",
            actor = "rep-bob",
            idempotencyKey = "crm-task-1",
            expectedStage = "LEAD_STAGE_MQL",
        });
        ok.StatusCode.Should().Be(HttpStatusCode.OK, await ok.Content.ReadAsStringAsync());
        using (var body = JsonDocument.Parse(await ok.Content.ReadAsStringAsync()))
        {
            body.RootElement.GetProperty("stage").GetString().Should().Be("LEAD_STAGE_SAL");
            body.RootElement.GetProperty("transitionKind").GetString().Should().Be("SalesAccepted");
        }

        using var conflict = await http.PostAsJsonAsync($"/v1/leads/{lead}/feedback", new
        {
            action = "SALES_ACTION_TYPE_ACCEPT",
            actor = "rep-carol",
            idempotencyKey = "crm-task-2",
        });
        conflict.StatusCode.Should().Be(HttpStatusCode.Conflict);
        conflict.Content.Headers.ContentType!.MediaType.Should().Be("application/problem+json");
        using var problem = JsonDocument.Parse(await conflict.Content.ReadAsStringAsync());
        problem.RootElement.GetProperty("status").GetInt32().Should().Be(409);
        problem.RootElement.GetProperty("grpcStatus").GetString().Should().Be("FailedPrecondition");
        problem.RootElement.GetProperty("detail").GetString().Should().Contain("Sal");
        (await FeedbackEventsAsync(lead)).Should().Be(1);

        using var unknown = await http.PostAsJsonAsync($"/v1/leads/nobody-{Guid.NewGuid():N}/feedback", new
        {
            action = "SALES_ACTION_TYPE_ACCEPT",
            actor = "rep-bob",
            idempotencyKey = "k",
        });
        unknown.StatusCode.Should().Be(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task An_action_against_a_stale_expected_stage_is_refused_naming_the_current_stage()
    {
        var lead = await fx.MqlAsync(Earlier);
        var client = fx.Feedback();
        await client.RecordSalesFeedbackAsync(Request(lead, SalesActionType.Accept));

        // The rep still sees the MQL and rejects it; meanwhile it was accepted.
        var error = await Refused(() => client.RecordSalesFeedbackAsync(
            Request(lead, SalesActionType.Reject, reason: "no budget", expected: LeadStage.Mql)).ResponseAsync, StatusCode.FailedPrecondition);

        error.Status.Detail.Should().Contain("expected stage Mql").And.Contain("Sal");
        (await FeedbackEventsAsync(lead)).Should().Be(1);
    }

    [Fact]
    public async Task The_same_idempotency_key_twice_records_one_event_and_answers_the_same_outcome()
    {
        var lead = await fx.MqlAsync(Earlier);
        var request = Request(lead, SalesActionType.Accept, key: "retry-me");

        var first = await fx.Feedback().RecordSalesFeedbackAsync(request);
        var second = await fx.Feedback().RecordSalesFeedbackAsync(request);

        first.Replay.Should().BeFalse();
        second.Replay.Should().BeTrue();
        var same = second.Clone();
        same.Replay = false;
        same.Should().Be(first, "a retry answers the original outcome (same event id, version and instants)");
        (await FeedbackEventsAsync(lead)).Should().Be(1);
    }

    [Fact]
    public async Task Concurrent_retries_with_one_key_record_one_event_and_all_answer_its_outcome()
    {
        var lead = await fx.MqlAsync(Earlier);
        var request = Request(lead, SalesActionType.Accept, key: "double-click");

        var outcomes = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => fx.Feedback().RecordSalesFeedbackAsync(request).ResponseAsync));

        outcomes.Count(o => !o.Replay).Should().Be(1);
        outcomes.Select(o => o.EventId).Distinct().Should().ContainSingle();
        (await FeedbackEventsAsync(lead)).Should().Be(1);
    }

    [Fact]
    public async Task The_same_idempotency_key_with_a_different_request_is_refused()
    {
        var lead = await fx.MqlAsync(Earlier);
        await fx.Feedback().RecordSalesFeedbackAsync(Request(lead, SalesActionType.Accept, key: "k-1"));

        var error = await Refused(() => fx.Feedback().RecordSalesFeedbackAsync(
            Request(lead, SalesActionType.Recycle, key: "k-1", reason: "later")).ResponseAsync, StatusCode.FailedPrecondition);

        error.Status.Detail.Should().Contain("idempotency key");
        (await fx.StreamAsync(lead)).Select(e => e.Data).OfType<SalesFeedbackRecorded>().Should().ContainSingle()
            .Which.Action.Should().Be(SalesActionKind.Accept);
    }

    [Fact]
    public async Task Concurrent_accepts_on_one_MQL_lead_record_exactly_one_and_refuse_the_others_naming_SAL()
    {
        // Several leads at once, many reps per lead, all released together: without the stream row lock two
        // decisions read the MQL before either commits, and both are stored.
        var leads = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => fx.HotMqlAsync(Earlier)));
        var clients = Enumerable.Range(0, 12).Select(_ => fx.Feedback()).ToList();
        using var start = new SemaphoreSlim(0);

        var calls = leads.SelectMany(lead => clients.Select(async (c, i) =>
        {
            await start.WaitAsync();
            try
            {
                await c.RecordSalesFeedbackAsync(Request(lead, SalesActionType.Accept, key: $"rep-{i}"));
                return (Lead: lead, Ok: true, Detail: "");
            }
            catch (RpcException ex) when (ex.StatusCode == StatusCode.FailedPrecondition)
            {
                return (Lead: lead, Ok: false, Detail: ex.Status.Detail);
            }
        })).ToList();
        start.Release(calls.Count);
        var outcomes = await Task.WhenAll(calls);

        foreach (var lead in leads)
        {
            outcomes.Count(o => o.Lead == lead && o.Ok).Should().Be(1, $"one accept of {lead} wins");
            (await FeedbackEventsAsync(lead)).Should().Be(1);
        }

        outcomes.Where(o => !o.Ok).Should().OnlyContain(o => o.Detail.Contains("current stage: Sal"));
    }

    [Fact]
    public async Task An_action_dated_before_the_leads_latest_sales_action_is_refused()
    {
        var lead = await fx.MqlAsync(Earlier);
        await fx.Feedback().RecordSalesFeedbackAsync(Request(lead, SalesActionType.Accept));

        var late = Request(lead, SalesActionType.Recycle, reason: "went quiet");
        late.OccurredAt = Timestamp.FromDateTimeOffset(Earlier.AddMinutes(10));
        var error = await Refused(() => fx.Feedback().RecordSalesFeedbackAsync(late).ResponseAsync, StatusCode.FailedPrecondition);

        error.Status.Detail.Should().Contain("before the lead's latest sales action");
        (await FeedbackEventsAsync(lead)).Should().Be(1);
    }

    [Fact]
    public async Task Bad_requests_are_INVALID_ARGUMENT_and_an_unknown_lead_NOT_FOUND()
    {
        var lead = await fx.MqlAsync(Earlier);
        var client = fx.Feedback();

        var future = Request(lead, SalesActionType.Accept);
        future.OccurredAt = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow.AddMinutes(30));
        await Refused(() => client.RecordSalesFeedbackAsync(future).ResponseAsync, StatusCode.InvalidArgument);

        var noActor = Request(lead, SalesActionType.Accept);
        noActor.Actor = " ";
        await Refused(() => client.RecordSalesFeedbackAsync(noActor).ResponseAsync, StatusCode.InvalidArgument);

        var noKey = Request(lead, SalesActionType.Accept, key: "");
        await Refused(() => client.RecordSalesFeedbackAsync(noKey).ResponseAsync, StatusCode.InvalidArgument);

        var noAction = Request(lead, SalesActionType.Unspecified);
        await Refused(() => client.RecordSalesFeedbackAsync(noAction).ResponseAsync, StatusCode.InvalidArgument);

        var amountOnAccept = Request(lead, SalesActionType.Accept);
        amountOnAccept.Amount = "10";
        await Refused(() => client.RecordSalesFeedbackAsync(amountOnAccept).ResponseAsync, StatusCode.InvalidArgument);

        await Refused(() => client.RecordSalesFeedbackAsync(Request(TestEnvironment.Unique("nobody"), SalesActionType.Accept)).ResponseAsync, StatusCode.NotFound);
        (await FeedbackEventsAsync(lead)).Should().Be(0);
    }
}

/// <summary>The Api alone (no projection): a score view that lags the stream, as it does right after an append.</summary>
public sealed class SalesFeedbackOnALaggingViewTests(ApiFixture api) : IClassFixture<ApiFixture>
{
    [Fact]
    public async Task The_decision_folds_the_events_the_view_has_not_applied_yet()
    {
        var lead = TestEnvironment.Unique("lag");
        var at = DateTimeOffset.UtcNow.AddHours(-1);
        object[] scored =
        [
            new ProfileUpdated($"{lead}-p", at, "cto@acme-industries.com", "CTO", 400, "software", "US", null, "tests"),
            new EngagementRecorded($"{lead}-demo", "form_submitted", at, "demo_request", null, "tests", null),
        ];
        var acceptedMeanwhile = new SalesFeedbackRecorded("crm-1", SalesActionKind.Accept, "rep-ada", at.AddMinutes(5), null, null, null, at.AddMinutes(5));
        await using (var session = api.Store.LightweightSession())
        {
            session.Events.Append(lead, [.. scored, acceptedMeanwhile]);
            // The view as the projection left it after the first two events: an MQL, stream version 2.
            var model = ScoringModel.Default;
            var view = new LeadScoreView { Id = lead, Lifecycle = LeadLifecycle.Create(model), ModelId = model.Id, ModelVersion = model.Version, StreamVersion = 2 };
            foreach (var data in scored) LeadTimeline.Record(view.Lifecycle, Leads.Lifecycle.LeadEventInputs.From(data)!, model);
            view.Lifecycle.Status.Stage.Should().Be(LifecycleStage.Mql);
            session.Store(view);
            await session.SaveChangesAsync();
        }

        var client = new SalesFeedback.SalesFeedbackClient(Grpc.Net.Client.GrpcChannel.ForAddress(
            api.Server.BaseAddress, new Grpc.Net.Client.GrpcChannelOptions { HttpHandler = TestApiKey.Handler(api.Server.CreateHandler()) }));
        var accept = async () => await client.RecordSalesFeedbackAsync(new RecordSalesFeedbackRequest
        {
            LeadId = lead, Action = SalesActionType.Accept, Actor = "rep-bob", IdempotencyKey = "crm-2",
        });
        var error = (await accept.Should().ThrowAsync<RpcException>()).Which;
        error.StatusCode.Should().Be(StatusCode.FailedPrecondition);
        error.Status.Detail.Should().Contain("current stage: Sal", "the stream's third event accepted the lead, whatever the view says");

        var qualified = await client.RecordSalesFeedbackAsync(new RecordSalesFeedbackRequest
        {
            LeadId = lead, Action = SalesActionType.Qualify, Actor = "rep-ada", IdempotencyKey = "crm-3",
        });
        qualified.Stage.Should().Be(LeadStage.Sql);
        qualified.StreamVersion.Should().Be(4);
    }
}
