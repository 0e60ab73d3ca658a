using System.Text.Json;
using JasperFx.Events.Daemon;
using Marten;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using ScoringPlatform.Contracts;
using ScoringPlatform.Leads;
using ScoringPlatform.Leads.Scoring;
using ScoringPlatform.Projections;
using ScoringPlatform.ServiceDefaults;
using ScoringPlatform.TestSupport;

namespace ScoringPlatform.Platform.IntegrationTests;

/// <summary>The Projections service's host in-process: Marten's async daemon on PostgreSQL, the relay on the broker.</summary>
public sealed class ProjectionsHostFixture : IAsyncLifetime
{
    public string Schema { get; } = TestEnvironment.UniqueSchema("itp");
    public WebApplication App { get; private set; } = null!;
    public IDocumentStore Store => App.Services.GetRequiredService<IDocumentStore>();

    public async Task InitializeAsync()
    {
        var builder = WebApplication.CreateBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ConnectionStrings:EventStore"] = TestEnvironment.PostgresConnectionString,
            ["EventStore:Schema"] = Schema,
            ["Kafka:BootstrapServers"] = TestEnvironment.KafkaBootstrap,
            ["Kestrel:Endpoints:Health:Url"] = "http://127.0.0.1:0",
        });
        builder.AddServiceDefaults("projections-test");
        builder.AddProjections();
        App = builder.Build();
        await App.StartAsync();
    }

    public async Task DisposeAsync()
    {
        await App.StopAsync();
        await App.DisposeAsync();
        await TestEnvironment.DropSchemaAsync(Schema);
    }
}

public sealed class ProjectionAndRelayTests(ProjectionsHostFixture host) : IClassFixture<ProjectionsHostFixture>
{
    private static readonly DateTimeOffset Now = DateTimeOffset.UtcNow;

    private async Task AppendAsync(string lead, params (string Type, string? Category)[] events)
    {
        await using var session = host.Store.LightweightSession();
        session.Events.Append(lead, events.Select((e, i) =>
            (object)new EngagementRecorded($"{lead}-{i}", e.Type, Now, e.Category, null, "tests", null)).ToArray());
        await session.SaveChangesAsync();
    }

    private Task<LeadScoreView> ViewWhen(string lead, Func<LeadScoreView, bool> until) =>
        Eventually.Get<LeadScoreView>(async () =>
        {
            await using var query = host.Store.QuerySession();
            return await query.LoadAsync<LeadScoreView>(lead);
        }, until, TimeSpan.FromSeconds(30), $"the score view of {lead}");

    private async Task<int> CrossingEventsAsync(string lead)
    {
        await using var query = host.Store.QuerySession();
        var events = await query.Events.FetchStreamAsync(lead);
        return events.Count(e => e.Data is MqlCrossed);
    }

    [Fact]
    public async Task A_lead_below_the_threshold_is_scored_but_not_an_MQL()
    {
        var lead = TestEnvironment.Unique("lead");
        await AppendAsync(lead, ("page_viewed", "blog"));

        var view = await ViewWhen(lead, v => v.EventCount == 1);
        view.IsMql.Should().BeFalse();
        view.RecentStageChanges.Should().BeEmpty();
        (await CrossingEventsAsync(lead)).Should().Be(0);
    }

    [Fact]
    public async Task A_crossing_is_recorded_once_in_the_store_and_published_once()
    {
        var lead = TestEnvironment.Unique("lead");
        await AppendAsync(lead, ("page_viewed", "pricing"), ("form_submitted", "demo_request"), ("form_submitted", "contact_sales"));

        var view = await ViewWhen(lead, v => v.MqlCrossings == 1);
        view.IsMql.Should().BeTrue();
        (await CrossingEventsAsync(lead)).Should().Be(1);

        using var kafka = new KafkaTestClient(TestEnvironment.KafkaBootstrap);
        var published = kafka.ConsumeUntil(Topics.LeadLifecycle, r => r.Message.Key == lead, _ => false, TimeSpan.FromSeconds(6));
        published.Should().ContainSingle();
        var message = JsonSerializer.Deserialize<LeadLifecycleMessage>(published[0].Message.Value, ContractJson.Options)!;
        message.Type.Should().Be(LifecycleMessageTypes.MqlCrossed);
        message.TriggeringEventId.Should().StartWith(lead);
    }

    [Fact]
    public async Task Rebuilding_the_projection_restores_the_view_without_appending_a_second_crossing()
    {
        var lead = TestEnvironment.Unique("lead");
        await AppendAsync(lead, ("page_viewed", "pricing"), ("form_submitted", "demo_request"), ("form_submitted", "contact_sales"));
        var before = await ViewWhen(lead, v => v.MqlCrossings == 1);

        var coordinator = host.App.Services.GetRequiredService<IProjectionCoordinator>();
        var daemon = coordinator.DaemonForMainDatabase();
        await daemon.RebuildProjectionAsync("LeadScore", TimeSpan.FromSeconds(60), CancellationToken.None);

        var after = await ViewWhen(lead, v => v.MqlCrossings == 1);
        after.EventCount.Should().Be(before.EventCount);
        after.IsMql.Should().BeTrue();
        (await CrossingEventsAsync(lead)).Should().Be(1, "side effects do not run during a rebuild");
    }
}
