using JasperFx;
using Marten;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Npgsql;
using ScoringPlatform.Ingestion.Consuming;
using ScoringPlatform.ServiceDefaults;
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

    /// <summary>The appender Ingestion uses, on this fixture's store.</summary>
    public EngagementAppender Appender(IngestionOptions ingestion)
    {
        var options = Options.Create(ingestion);
        return new EngagementAppender(Store, Options.Create(new EventStoreOptions
        {
            ConnectionString = TestEnvironment.PostgresConnectionString,
            Schema = Schema,
        }), options, new StoreResilience(options, NullLogger<StoreResilience>.Instance, TimeProvider.System));
    }

    public async Task ExecuteAsync(string sql)
    {
        await using var connection = new NpgsqlConnection(TestEnvironment.PostgresConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql.Replace("{schema}", Schema, StringComparison.Ordinal), connection);
        await command.ExecuteNonQueryAsync();
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
