using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Marten;
using Npgsql;
using ScoringPlatform.Leads.ReadModel;
using ScoringPlatform.TestSupport;

namespace ScoringPlatform.Benchmarks.Platform;

/// <summary>What a live page's views cost the client as JSON, best of three rounds each.</summary>
internal sealed record ViewCodecResult(int Views, double MeanKilobytes, double ParseMs, double FromJsonMs, double ToJsonMs);

/// <summary>
/// The client's share of a live projection page, measured on the views the soak left: parse the stored JSON of as many
/// views as a full page touches into <see cref="LeadScoreView"/>s with the store's serializer, and serialise them back.
/// Baseline in the same run: a bare <see cref="JsonDocument"/> parse of the same bytes (what reading that much JSON
/// costs at all, whatever the serializer).
/// </summary>
internal static class ViewCodecBench
{
    public static async Task<ViewCodecResult> RunAsync(string schema, int views)
    {
        using var store = DocumentStore.For(o => Leads.EventStore.LeadEventStore.Configure(o, TestEnvironment.PostgresConnectionString, schema, Scoring.ScoringModel.Default));
        var serializer = store.Options.Serializer();
        var texts = new List<byte[]>(views);
        await using (var connection = new NpgsqlConnection(TestEnvironment.PostgresConnectionString))
        {
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand($"select data::text from {schema}.mt_doc_leadscoreview order by last_sequence desc limit {views}", connection);
            await using var reader = await command.ExecuteReaderAsync();
            while (await reader.ReadAsync()) texts.Add(Encoding.UTF8.GetBytes(reader.GetString(0)));
        }

        double parse = double.MaxValue, fromJson = double.MaxValue, toJson = double.MaxValue;
        for (var round = 0; round < 3; round++)
        {
            var watch = Stopwatch.StartNew();
            foreach (var text in texts)
            {
                using var document = JsonDocument.Parse(text);
            }

            parse = Math.Min(parse, watch.Elapsed.TotalMilliseconds);
            watch.Restart();
            var parsed = texts.Select(text => serializer.FromJson<LeadScoreView>(new MemoryStream(text))).ToList();
            fromJson = Math.Min(fromJson, watch.Elapsed.TotalMilliseconds);
            watch.Restart();
            foreach (var view in parsed) serializer.ToJson(view);
            toJson = Math.Min(toJson, watch.Elapsed.TotalMilliseconds);
        }

        return new ViewCodecResult(texts.Count, texts.Count == 0 ? 0 : texts.Average(t => t.Length) / 1024.0, parse, fromJson, toJson);
    }
}
