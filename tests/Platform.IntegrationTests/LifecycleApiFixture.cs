using Grpc.Net.Client;
using Marten;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using ScoringPlatform.Api.V1;
using ScoringPlatform.Leads;
using ScoringPlatform.Leads.ReadModel;
using ScoringPlatform.TestSupport;

namespace ScoringPlatform.Platform.IntegrationTests;

/// <summary>
/// The Api in-process (test server) and the Projections host (daemon, relay) on one schema of the real PostgreSQL:
/// feedback written through the Api moves the lead's score view, and the projection writes the lifecycle outbox.
/// </summary>
public sealed class LifecycleApiFixture : IAsyncLifetime
{
    public string Schema { get; } = TestEnvironment.UniqueSchema("itl");
    public WebApplication Projections { get; private set; } = null!;
    public SchemaApi Api { get; private set; } = null!;
    public IDocumentStore Store => Api.Services.GetRequiredService<IDocumentStore>();

    public async Task InitializeAsync()
    {
        Projections = await ProjectionsHostFixture.StartAsync(Schema);
        Api = new SchemaApi(Schema);
        _ = Api.Server;
    }

    public async Task DisposeAsync()
    {
        await Api.DisposeAsync();
        await Projections.StopAsync();
        await Projections.DisposeAsync();
        await TestEnvironment.DropSchemaAsync(Schema);
    }

    private GrpcChannel Channel() =>
        GrpcChannel.ForAddress(Api.Server.BaseAddress, new GrpcChannelOptions { HttpHandler = TestApiKey.Handler(Api.Server.CreateHandler()) });

    public SalesFeedback.SalesFeedbackClient Feedback() => new(Channel());
    public LeadQueries.LeadQueriesClient Queries() => new(Channel());
    public LeadScoring.LeadScoringClient Scoring() => new(Channel());

    /// <summary>A fit profile (fit 40 in the default model) and engagement at <paramref name="at"/>.</summary>
    public async Task<string> SeedAsync(DateTimeOffset at, bool fit, params (string Type, string? Category)[] events)
    {
        var lead = TestEnvironment.Unique("lead");
        await using var session = Store.LightweightSession();
        if (fit)
        {
            session.Events.Append(lead, new ProfileUpdated($"{lead}-profile", at, "cto@acme-industries.com", "CTO", 400, "software", "US", null, "tests"));
        }

        session.Events.Append(lead, events.Select((e, i) =>
            (object)new EngagementRecorded($"{lead}-{i}", e.Type, at, e.Category, null, "tests", null)).ToArray());
        await session.SaveChangesAsync();
        return lead;
    }

    /// <summary>A fit lead that requested a demo: a Hot MQL (seeds: "Hot MQL (demo request ... with fit: immediate attention)").</summary>
    public Task<string> HotMqlAsync(DateTimeOffset at) => SeedAsync(at, fit: true, ("form_submitted", "demo_request"));

    /// <summary>
    /// A fit lead that visited the pricing page and attended a webinar: fit 40 + 20 + 10 >= 50 from two distinct actions
    /// (seeds: "fit alone never qualifies"), an MQL but not a Hot one.
    /// </summary>
    public Task<string> MqlAsync(DateTimeOffset at) => SeedAsync(at, fit: true, ("page_viewed", "pricing"), ("webinar_attended", null));

    public Task<LeadScoreView> ViewWhen(string lead, Func<LeadScoreView, bool> until) => ProjectionProbe.ViewWhen(Store, lead, until);

    public async Task<IReadOnlyList<JasperFx.Events.IEvent>> StreamAsync(string lead)
    {
        await using var query = Store.QuerySession();
        return await query.Events.FetchStreamAsync(lead);
    }
}

/// <summary>The Api on a given schema, with the test key configured; its HTTP clients send the key.</summary>
public sealed class SchemaApi(string schema) : WebApplicationFactory<ScoringPlatform.Api.Verdicts.LeadScoringService>
{
    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseSetting("ConnectionStrings:EventStore", TestEnvironment.PostgresConnectionString);
        builder.UseSetting("EventStore:Schema", schema);
        foreach (var (key, value) in TestApiKey.Settings(":")) builder.UseSetting(key, value);
    }

    protected override void ConfigureClient(HttpClient client)
    {
        base.ConfigureClient(client);
        client.DefaultRequestHeaders.Authorization = new("Bearer", TestApiKey.Key);
    }
}
