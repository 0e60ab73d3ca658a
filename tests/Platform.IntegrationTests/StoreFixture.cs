using JasperFx;
using Marten;
using Npgsql;
using ScoringPlatform.Leads.EventStore;
using ScoringPlatform.Scoring;
using ScoringPlatform.TestSupport;

namespace ScoringPlatform.Platform.IntegrationTests;

/// <summary>A Marten store on the real PostgreSQL, in a schema of its own.</summary>
public sealed class StoreFixture : IAsyncLifetime
{
    public string Schema { get; } = TestEnvironment.UniqueSchema("it");
    public DocumentStore Store { get; private set; } = null!;
    public ScoringModel Model => ScoringModel.Default;

    public async Task InitializeAsync()
    {
        Store = DocumentStore.For(o =>
        {
            LeadEventStore.Configure(o, TestEnvironment.PostgresConnectionString, Schema, Model);
            o.AutoCreateSchemaObjects = AutoCreate.All;
        });
        await Store.Storage.ApplyAllConfiguredChangesToDatabaseAsync();
    }

    public async Task<long> CountEventsAsync(string streamKey)
    {
        await using var connection = new NpgsqlConnection(TestEnvironment.PostgresConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand($"select count(*) from {Schema}.mt_events where stream_id = @s", connection);
        command.Parameters.AddWithValue("s", streamKey);
        return (long)(await command.ExecuteScalarAsync())!;
    }

    public async Task DisposeAsync()
    {
        Store.Dispose();
        await TestEnvironment.DropSchemaAsync(Schema);
    }
}
