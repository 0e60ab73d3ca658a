using System.Net;
using System.Net.Sockets;

namespace ScoringPlatform.TestSupport;

/// <summary>
/// The real infrastructure `make test` started (scripts/test.sh exports these variables). Tests fail, not
/// skip, without it: a green run must mean the tests ran against PostgreSQL and the Kafka protocol.
/// </summary>
public static class TestEnvironment
{
    public static string PostgresConnectionString => Require("SCORING_TEST_PG");
    public static string KafkaBootstrap => Require("SCORING_TEST_KAFKA");
    public static string Configuration => Environment.GetEnvironmentVariable("SCORING_CONFIGURATION") ?? "Release";

    public static string RepositoryRoot { get; } = FindRoot();

    /// <summary>A fresh lower-case schema name, so each fixture has its own event store.</summary>
    public static string UniqueSchema(string prefix) => $"{prefix}_{Guid.NewGuid():N}"[..Math.Min(40, prefix.Length + 33)];

    public static string Unique(string prefix) => $"{prefix}-{Guid.NewGuid():N}";

    /// <summary>Drops a fixture's schema (and everything in it) from the test database.</summary>
    public static async Task DropSchemaAsync(string schema)
    {
        await using var connection = new Npgsql.NpgsqlConnection(PostgresConnectionString);
        await connection.OpenAsync();
        await using var command = new Npgsql.NpgsqlCommand($"drop schema if exists {schema} cascade", connection);
        await command.ExecuteNonQueryAsync();
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static string Require(string name) =>
        Environment.GetEnvironmentVariable(name) is { Length: > 0 } value
            ? value
            : throw new InvalidOperationException(
                $"{name} is not set. Run the tests with `make test`, which starts PostgreSQL and the dev broker and sets it " +
                "(or `make infra-up` then `source .run/infra.env` and export SCORING_TEST_PG / SCORING_TEST_KAFKA).");

    private static string FindRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "ScoringPlatform.sln"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("ScoringPlatform.sln not found above " + AppContext.BaseDirectory);
    }
}
