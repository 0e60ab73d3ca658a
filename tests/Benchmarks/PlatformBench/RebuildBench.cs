using Marten;
using ScoringPlatform.Leads.ReadModel;
using ScoringPlatform.Scoring;
using ScoringPlatform.TestSupport;

namespace ScoringPlatform.Benchmarks.Platform;

/// <summary>The two LeadScore rebuilds the bench times: the stream-ordered one the service uses and Marten's own.</summary>
internal static class RebuildBench
{
    public static Task<StreamOrderedRebuildResult> StreamOrderedAsync(IDocumentStore store, string schema) =>
        new StreamOrderedRebuild(store, ScoringModel.Default, schema, TestEnvironment.PostgresConnectionString).RunAsync(CancellationToken.None);

    /// <summary>Marten's rebuild; returns the events it covered (its ceiling: the high-water mark).</summary>
    public static async Task<long> MartenAsync(IDocumentStore store)
    {
        using var daemon = await store.BuildProjectionDaemonAsync();
        await daemon.RebuildProjectionAsync(LeadScoreProjection.ProjectionName, TimeSpan.FromMinutes(30), CancellationToken.None);
        return daemon.HighWaterMark();
    }
}
