using Marten;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using ScoringPlatform.Leads;
using ScoringPlatform.Leads.EventStore;
using ScoringPlatform.TestSupport;

namespace ScoringPlatform.Platform.IntegrationTests;

public sealed class SchemaOwnershipTests
{
    private static IHost Host(string schema, bool owner)
    {
        var builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ConnectionStrings:EventStore"] = TestEnvironment.PostgresConnectionString,
            ["EventStore:Schema"] = schema,
            ["EventStore:ApplySchemaOnStart"] = owner ? "true" : "false",
        });
        builder.AddLeadEventStore();
        return builder.Build();
    }

    [Fact]
    public async Task A_waiting_service_and_two_racing_owners_all_start_once_the_schema_exists()
    {
        var schema = TestEnvironment.UniqueSchema("its");
        using var waiter = Host(schema, owner: false);
        using var first = Host(schema, owner: true);
        using var second = Host(schema, owner: true);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try
        {
            var waiting = waiter.StartAsync(timeout.Token);
            await Task.WhenAll(first.StartAsync(timeout.Token), second.StartAsync(timeout.Token), waiting);

            await using var session = waiter.Services.GetRequiredService<IDocumentStore>().LightweightSession();
            session.Events.Append("lead-1", new EngagementRecorded("evt-1", "page_viewed", DateTimeOffset.UtcNow, "pricing", null, "tests", null));
            await session.SaveChangesAsync(timeout.Token);
            await using var query = second.Services.GetRequiredService<IDocumentStore>().QuerySession();
            (await query.Events.FetchStreamAsync("lead-1", token: timeout.Token)).Should().ContainSingle();
        }
        finally
        {
            await Task.WhenAll(waiter.StopAsync(), first.StopAsync(), second.StopAsync());
            await TestEnvironment.DropSchemaAsync(schema);
        }
    }
}
