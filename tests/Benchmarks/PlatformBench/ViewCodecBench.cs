using System.Diagnostics;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Marten;
using Npgsql;
using ScoringPlatform.Leads.ReadModel;
using ScoringPlatform.TestSupport;

namespace ScoringPlatform.Benchmarks.Platform;

/// <summary>What a live page's views cost the client as JSON, best of three rounds each.</summary>
internal sealed record ViewCodecResult(
    int Views, double MeanKilobytes, double ParseMs, double FromJsonMs, double ToJsonMs, double ObjectFormKilobytes, double ObjectFormFromJsonMs);

/// <summary>
/// The client's share of a live projection page, measured on the views the soak left: parse the stored JSON of as many
/// views as a full page touches into <see cref="LeadScoreView"/>s with the store's serializer, and serialise them back.
/// Baselines in the same run: a bare <see cref="JsonDocument"/> parse of the same bytes (what reading that much JSON
/// costs at all, whatever the serializer), and the same views with the lifecycle as a JSON object (layout 2, before it
/// was packed) read by the same serializer.
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

        // The same views as layout 2 stored them: the lifecycle as the serializer writes the object.
        var objectForm = texts.Select(text =>
        {
            var view = serializer.FromJson<LeadScoreView>(new MemoryStream(text));
            var node = JsonNode.Parse(text)!;
            node["Lifecycle"] = JsonNode.Parse(serializer.ToJson(view.Lifecycle));
            return Encoding.UTF8.GetBytes(node.ToJsonString());
        }).ToList();

        double parse = double.MaxValue, fromJson = double.MaxValue, toJson = double.MaxValue, objectFromJson = double.MaxValue;
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
            watch.Restart();
            foreach (var text in objectForm) serializer.FromJson<LeadScoreView>(new MemoryStream(text));
            objectFromJson = Math.Min(objectFromJson, watch.Elapsed.TotalMilliseconds);
        }

        static double Kilobytes(List<byte[]> all) => all.Count == 0 ? 0 : all.Average(t => t.Length) / 1024.0;
        return new ViewCodecResult(texts.Count, Kilobytes(texts), parse, fromJson, toJson, Kilobytes(objectForm), objectFromJson);
    }
}
