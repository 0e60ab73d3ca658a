using System.Diagnostics;
using System.Text.Json;
using ScoringPlatform.Contracts;
using ScoringPlatform.TestSupport;

namespace ScoringPlatform.Tracking.Tests;

/// <summary>
/// The official client, <c>@segment/analytics-node</c> from the npm registry, unmodified, pointed at the service with
/// its <c>host</c> option (scripts/test.sh runs <c>npm ci</c> in <c>interop/</c>). What it sends must arrive mapped.
/// </summary>
public class AnalyticsNodeInteropTests(TrackingService service) : IClassFixture<TrackingService>
{
    private static readonly string Interop = Path.Combine(TestEnvironment.RepositoryRoot, "tests", "Tracking.Tests", "interop");

    [Fact]
    public async Task The_unmodified_analytics_node_client_delivers_its_calls_in_batches_and_they_arrive_mapped()
    {
        File.Exists(Path.Combine(Interop, "node_modules", "@segment", "analytics-node", "package.json")).Should().BeTrue(
            "scripts/test.sh installs the client with `npm ci --prefix tests/Tracking.Tests/interop`");
        var runId = Guid.NewGuid().ToString("N");

        var (exitCode, report, output) = await RunNodeAsync(service.BaseUrl, service.WriteKey, runId);

        exitCode.Should().Be(0, output);
        report.GetProperty("statuses").EnumerateArray().Select(s => s.GetInt32()).Should().OnlyContain(s => s == 200).And.HaveCount(3, "7 calls, flushAt 3: batches of 3, 3 and 1");
        report.GetProperty("paths").EnumerateArray().Select(p => p.GetString()).Should().Equal("/v1/batch");

        string Id(string name) => $"{runId}-{name}";
        var (lead, anon) = ($"npm-lead-{runId}", $"npm-anon-{runId}");
        var arrived = service.ReadIds(Id("page"), Id("download"), Id("identify"), Id("alias"), Id("demo"), Id("custom"), Id("screen")).ToDictionary(a => a.Id);

        arrived.Should().HaveCount(7);
        arrived.Values.Should().AllSatisfy(a => a.Field("source").Should().Be("website"));
        var page = arrived[Id("page")];
        (page.Type, page.AnonymousId, page.Key, page.Property("category"), page.Property("url"))
            .Should().Be((EngagementEventTypes.PageViewed, anon, anon, PageCategories.Pricing, "https://example.io/pricing"));
        arrived[Id("download")].Type.Should().Be(EngagementEventTypes.ContentDownloaded);
        var identify = arrived[Id("identify")];
        (identify.Type, identify.LeadId, identify.AnonymousId, identify.Key).Should().Be((EngagementEventTypes.ProfileUpdated, lead, anon, lead));
        JsonSerializer.Deserialize<LeadTraits>(identify.Json.GetProperty("traits").GetRawText(), ContractJson.Options).Should().BeEquivalentTo(
            new LeadTraits { Email = "ana@acme.io", JobTitle = "VP Engineering", CompanySize = 400, Industry = "software", Country = "US" });
        var alias = arrived[Id("alias")];
        (alias.Type, alias.LeadId, alias.Property("previousId")).Should().Be((EngagementEventTypes.IdentityLinked, lead, anon));
        (arrived[Id("demo")].Type, arrived[Id("demo")].Property("formType")).Should().Be((EngagementEventTypes.FormSubmitted, FormTypes.DemoRequest));
        (arrived[Id("custom")].Type, arrived[Id("custom")].Property("eventName")).Should().Be((EngagementEventTypes.CustomEvent, "Added to Cart"));
        (arrived[Id("screen")].Type, arrived[Id("screen")].Property("category")).Should().Be((EngagementEventTypes.PageViewed, PageCategories.CaseStudy));
        // The client stamps timestamp and sentAt from one clock: after the correction the instants are this machine's.
        arrived.Values.Should().AllSatisfy(a => a.OccurredAt.Should().BeBefore(DateTimeOffset.UtcNow));
    }

    [Fact]
    public async Task The_client_reports_an_unknown_write_key_as_a_delivery_failure_without_retrying()
    {
        var (exitCode, report, output) = await RunNodeAsync(service.BaseUrl, "wk_unknown", Guid.NewGuid().ToString("N"));

        exitCode.Should().Be(1, output);
        report.GetProperty("statuses").EnumerateArray().Select(s => s.GetInt32()).Should().OnlyContain(s => s == 401).And.HaveCount(3, "a 401 is not retried");
    }

    /// <summary>Runs the script; its report is the last line of its standard output.</summary>
    private static async Task<(int ExitCode, JsonElement Report, string Output)> RunNodeAsync(string host, string writeKey, string runId)
    {
        var info = new ProcessStartInfo("node", ["send.mjs", host, writeKey, runId])
        {
            WorkingDirectory = Interop,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        await process.WaitForExitAsync(timeout.Token);
        var output = (await stdout).Trim();
        var all = output + "\nstderr: " + await stderr;
        var lastLine = output.Split('\n').LastOrDefault() ?? "";
        lastLine.Should().StartWith("{", all);
        return (process.ExitCode, JsonDocument.Parse(lastLine).RootElement.Clone(), all);
    }
}
