using System.Net;
using System.Text.Json;
using Grpc.Core;
using Grpc.Net.Client;
using Marten;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Npgsql;
using ScoringPlatform.Api;
using ScoringPlatform.Api.V1;
using ScoringPlatform.Leads;
using ScoringPlatform.Leads.ReadModel;
using ScoringPlatform.Scoring;
using ScoringPlatform.Scoring.Lifecycle;
using ScoringPlatform.TestSupport;

namespace ScoringPlatform.Platform.IntegrationTests;

/// <summary>The Api in-process (test server) on the real PostgreSQL event store.</summary>
public sealed class ApiFixture : WebApplicationFactory<ScoringPlatform.Api.Verdicts.LeadScoringService>, IAsyncLifetime
{
    public string Schema { get; } = TestEnvironment.UniqueSchema("ita");

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseSetting("ConnectionStrings:EventStore", TestEnvironment.PostgresConnectionString);
        builder.UseSetting("EventStore:Schema", Schema);
        foreach (var (key, value) in TestApiKey.Settings(":")) builder.UseSetting(key, value);
    }

    protected override void ConfigureClient(HttpClient client)
    {
        base.ConfigureClient(client);
        client.DefaultRequestHeaders.Authorization = new("Bearer", TestApiKey.Key);
    }

    public IDocumentStore Store => Services.GetRequiredService<IDocumentStore>();

    public LeadScoring.LeadScoringClient GrpcClient() =>
        new(GrpcChannel.ForAddress(Server.BaseAddress, new GrpcChannelOptions { HttpHandler = TestApiKey.Handler(Server.CreateHandler()) }));

    /// <summary>Waits for the ready Api (its verdict cache loaded): gRPC health is NOT_SERVING until then.</summary>
    public async Task InitializeAsync()
    {
        using var http = CreateClient();
        await Eventually.Ready(http, TimeSpan.FromSeconds(60));
    }

    async Task IAsyncLifetime.DisposeAsync()
    {
        await base.DisposeAsync();
        await TestEnvironment.DropSchemaAsync(Schema);
    }
}

public sealed class ApiTests(ApiFixture api) : IClassFixture<ApiFixture>
{
    private static readonly DateTimeOffset At = new(2026, 11, 1, 12, 0, 0, TimeSpan.Zero);

    private async Task<string> SeedLeadAsync(params ScoringEvent[] events)
    {
        var lead = TestEnvironment.Unique("lead");
        var model = ScoringModel.Default;
        var view = new LeadScoreView { Id = lead, Lifecycle = LeadLifecycle.Create(model), ModelId = model.Id, ModelVersion = model.Version };
        foreach (var e in events)
        {
            LeadTimeline.Record(view.Lifecycle, new EngagementInput(e), model);
            view.EventCount++;
            view.LastEventAt = e.OccurredAt;
        }

        await using var session = api.Store.LightweightSession();
        session.Store(view);
        await session.SaveChangesAsync();
        return lead;
    }

    [Fact]
    public async Task GetVerdict_over_gRPC_returns_the_decayed_score_as_of_the_requested_instant()
    {
        var lead = await SeedLeadAsync(new ScoringEvent("e1", "page_viewed", At, "pricing"));
        var client = api.GrpcClient();

        var atEvent = await client.GetVerdictAsync(new GetVerdictRequest { LeadId = lead, AsOf = Google.Protobuf.WellKnownTypes.Timestamp.FromDateTimeOffset(At) });
        var later = await client.GetVerdictAsync(new GetVerdictRequest { LeadId = lead, AsOf = Google.Protobuf.WellKnownTypes.Timestamp.FromDateTimeOffset(At.AddDays(60)) });

        atEvent.LeadId.Should().Be(lead);
        atEvent.EngagementScore.Should().BeGreaterThan(0);
        later.EngagementScore.Should().BeLessThan(atEvent.EngagementScore, "engagement decays");
        atEvent.ModelId.Should().Be(ScoringModel.Default.Id);
        atEvent.Contributions.Should().NotBeEmpty();
    }

    [Fact]
    public async Task GetVerdict_at_a_past_as_of_reports_the_stage_of_that_instant_not_todays()
    {
        // The issue's finding: a lead that first reached 50 on day 5 was reported as MQL an hour after its first event.
        // Pricing (20) + webinar (10) on day 0, a demo request on day 5 (hand-raiser, over 50).
        var lead = await SeedLeadAsync(
            new ScoringEvent("p0", "page_viewed", At, "pricing"),
            new ScoringEvent("w0", "webinar_attended", At),
            new ScoringEvent("d5", "form_submitted", At.AddDays(5), "demo_request"));
        var client = api.GrpcClient();
        Task<Api.V1.Verdict> VerdictAt(DateTimeOffset asOf) =>
            client.GetVerdictAsync(new GetVerdictRequest { LeadId = lead, AsOf = Google.Protobuf.WellKnownTypes.Timestamp.FromDateTimeOffset(asOf) }).ResponseAsync;

        var early = await VerdictAt(At.AddHours(1));
        (early.IsMql, early.Stage, early.Tier).Should().Be((false, LeadStage.Lead, Api.V1.MqlTier.None));
        early.Sla.Should().BeNull();

        var after = await VerdictAt(At.AddDays(5).AddHours(1));
        (after.IsMql, after.Stage).Should().Be((true, LeadStage.Mql));
        after.StageSince.ToDateTimeOffset().Should().Be(At.AddDays(5), "the lead became an MQL at the demo request");
        after.MqlEntries.Should().Be(1);
    }

    [Fact]
    public async Task GetVerdict_answers_OUT_OF_RANGE_before_the_kept_history()
    {
        var events = Enumerable.Range(0, 300)
            .Select(i => new ScoringEvent($"e{i}", "email_opened", At.AddHours(i), ActivityKey: $"mail-{i}"))
            .ToArray();
        var lead = await SeedLeadAsync(events);

        var call = async () => await api.GrpcClient().GetVerdictAsync(new GetVerdictRequest
        {
            LeadId = lead,
            AsOf = Google.Protobuf.WellKnownTypes.Timestamp.FromDateTimeOffset(At.AddMinutes(30)),
        });
        (await call.Should().ThrowAsync<RpcException>()).Which.StatusCode.Should().Be(StatusCode.OutOfRange);
    }

    [Fact]
    public async Task GetVerdict_rejects_an_empty_lead_id_with_INVALID_ARGUMENT()
    {
        var call = async () => await api.GrpcClient().GetVerdictAsync(new GetVerdictRequest { LeadId = "" });
        (await call.Should().ThrowAsync<RpcException>()).Which.StatusCode.Should().Be(StatusCode.InvalidArgument);
    }

    [Fact]
    public async Task GetVerdict_answers_NOT_FOUND_for_an_unknown_lead()
    {
        var call = async () => await api.GrpcClient().GetVerdictAsync(new GetVerdictRequest { LeadId = "nobody-" + Guid.NewGuid() });
        (await call.Should().ThrowAsync<RpcException>()).Which.StatusCode.Should().Be(StatusCode.NotFound);
    }

    [Fact]
    public async Task REST_mirrors_GetVerdict_with_problem_json_errors()
    {
        var lead = await SeedLeadAsync(new ScoringEvent("e1", "webinar_attended", At));
        using var http = api.CreateClient();

        using var ok = await http.GetAsync($"/v1/leads/{lead}/verdict?asOf={Uri.EscapeDataString(At.ToString("O"))}");
        ok.StatusCode.Should().Be(HttpStatusCode.OK, await ok.Content.ReadAsStringAsync());
        using var body = JsonDocument.Parse(await ok.Content.ReadAsStringAsync());
        body.RootElement.GetProperty("leadId").GetString().Should().Be(lead);

        using var missing = await http.GetAsync("/v1/leads/nobody-x/verdict");
        missing.StatusCode.Should().Be(HttpStatusCode.NotFound);
        missing.Content.Headers.ContentType!.MediaType.Should().Be("application/problem+json");

        using var invalid = await http.GetAsync("/v1/leads/%20/verdict");
        invalid.StatusCode.Should().Be(HttpStatusCode.BadRequest);
        using var problem = JsonDocument.Parse(await invalid.Content.ReadAsStringAsync());
        problem.RootElement.GetProperty("status").GetInt32().Should().Be(400);
        problem.RootElement.GetProperty("grpcStatus").GetString().Should().Be("InvalidArgument");
    }

    [Fact]
    public async Task Grpc_health_follows_readiness_so_a_failing_dependency_check_makes_it_NOT_SERVING()
    {
        var health = new Grpc.Health.V1.Health.HealthClient(
            GrpcChannel.ForAddress(api.Server.BaseAddress, new GrpcChannelOptions { HttpHandler = TestApiKey.Handler(api.Server.CreateHandler()) }));
        (await health.CheckAsync(new Grpc.Health.V1.HealthCheckRequest())).Status
            .Should().Be(Grpc.Health.V1.HealthCheckResponse.Types.ServingStatus.Serving);

        await using var failing = api.WithWebHostBuilder(b => b.ConfigureTestServices(services =>
            services.AddHealthChecks().AddCheck("dependency", () => HealthCheckResult.Unhealthy("down"))));
        var failingHealth = new Grpc.Health.V1.Health.HealthClient(
            GrpcChannel.ForAddress(failing.Server.BaseAddress, new GrpcChannelOptions { HttpHandler = TestApiKey.Handler(failing.Server.CreateHandler()) }));

        (await failingHealth.CheckAsync(new Grpc.Health.V1.HealthCheckRequest())).Status
            .Should().Be(Grpc.Health.V1.HealthCheckResponse.Types.ServingStatus.NotServing);
        using var http = failing.CreateClient();
        (await http.GetAsync("/health/ready")).StatusCode.Should().Be(HttpStatusCode.ServiceUnavailable);
        (await http.GetAsync("/health/live")).StatusCode.Should().Be(HttpStatusCode.OK, "liveness is the process only");
    }
}
