using System.Text.Json;
using ScoringPlatform.Contracts;

namespace ScoringPlatform.Benchmarks.Platform;

/// <summary>A deterministic engagement workload: N events over L leads, the last 30 days, a realistic type mix.</summary>
internal static class Workload
{
    private static readonly (string Type, string? Category, string? Key, int Weight)[] Mix =
    [
        ("page_viewed", "blog", "category", 30), ("page_viewed", "product", "category", 15), ("page_viewed", "pricing", "category", 5),
        ("page_viewed", "case_study", "category", 5), ("email_opened", null, null, 25), ("email_clicked", null, null, 8),
        ("content_downloaded", null, null, 5), ("webinar_attended", null, null, 3), ("form_submitted", "demo_request", "formType", 2),
        ("form_submitted", "newsletter", "formType", 2),
    ];

    public static string LeadId(int i) => $"bench-lead-{i:D6}";

    public static IEnumerable<(string Key, byte[] Value, EngagementEvent Event)> Generate(int events, int leads, string runId, int seed = 42)
    {
        var random = new Random(seed);
        var totalWeight = Mix.Sum(m => m.Weight);
        var now = DateTimeOffset.UtcNow;
        for (var i = 0; i < events; i++)
        {
            var pick = random.Next(totalWeight);
            var m = Mix[0];
            foreach (var candidate in Mix)
            {
                if (pick < candidate.Weight) { m = candidate; break; }
                pick -= candidate.Weight;
            }

            var lead = LeadId(random.Next(leads));
            var properties = new Dictionary<string, JsonElement>();
            if (m.Key is not null) properties[m.Key] = JsonSerializer.SerializeToElement(m.Category);
            properties["emailId"] = JsonSerializer.SerializeToElement($"mail-{random.Next(50)}");
            var evt = new EngagementEvent
            {
                Id = $"{runId}-{i}",
                Type = m.Type,
                LeadId = lead,
                OccurredAt = now.AddSeconds(-random.Next(30 * 24 * 3600)),
                Source = "bench",
                Properties = properties,
            };
            yield return (lead, JsonSerializer.SerializeToUtf8Bytes(evt, ContractJson.Options), evt);
        }
    }
}
