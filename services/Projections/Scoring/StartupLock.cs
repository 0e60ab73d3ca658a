using Npgsql;
using ScoringPlatform.Leads.EventStore;
using ScoringPlatform.Leads.ReadModel;

namespace ScoringPlatform.Projections.Scoring;

/// <summary>
/// The start-up turn for what writes the score views before the daemon starts (<see cref="ModelChangeRebuild"/>,
/// <see cref="StartupCatchUp"/>): one session-level advisory lock per schema, so replicas take turns and the one that
/// waited finds the work done. Released when the returned connection closes.
/// </summary>
internal static class StartupLock
{
    public static async Task<NpgsqlConnection> AcquireAsync(EventStoreOptions options, CancellationToken cancellationToken)
    {
        var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(options.ConnectionString) { Pooling = false }.ConnectionString);
        try
        {
            await connection.OpenAsync(cancellationToken);
            await using var command = new NpgsqlCommand("select pg_advisory_lock(hashtext(@key))", connection);
            command.Parameters.AddWithValue("key", $"{options.Schema}.{LeadScoreProjection.ProjectionName}.model-rebuild");
            await command.ExecuteNonQueryAsync(cancellationToken);
            return connection;
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }
}
