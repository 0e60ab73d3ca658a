using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace ScoringPlatform.Leads.EventStore;

public static class EventStoreHealth
{
    public const string ReadinessCheck = "postgres";

    /// <summary>Readiness for services that use the event store: PostgreSQL answers a query.</summary>
    public static IHealthChecksBuilder AddPostgresReadiness(this IHealthChecksBuilder checks) =>
        checks.AddNpgSql(
            sp => sp.GetRequiredService<IOptions<EventStoreOptions>>().Value.ConnectionString!,
            name: ReadinessCheck,
            timeout: TimeSpan.FromSeconds(3));
}
