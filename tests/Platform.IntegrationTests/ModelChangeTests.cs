using Marten;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using ScoringPlatform.Leads;
using ScoringPlatform.Leads.ReadModel;
using ScoringPlatform.Scoring;
using ScoringPlatform.Scoring.Lifecycle;
using ScoringPlatform.TestSupport;

namespace ScoringPlatform.Platform.IntegrationTests;

/// <summary>A new scoring model version is data: the Projections service adopts it at start without losing events.</summary>
public sealed class ModelChangeTests : IAsyncLifetime
{
    private readonly string _schema = TestEnvironment.UniqueSchema("itm");
    private readonly string _nextModel = Path.Combine(Path.GetTempPath(), $"model-{Guid.NewGuid():N}.json");
    private WebApplication? _app;

    public Task InitializeAsync()
    {
        // The default model with only its version bumped: the views of the running version are now stale.
        var json = File.ReadAllText(Path.Combine(TestEnvironment.RepositoryRoot, "services", "Scoring", "Models", "default-model.json"));
        var current = $"\"version\": {ScoringModel.Default.Version},";
        json.Should().Contain(current);
        File.WriteAllText(_nextModel, json.Replace(current, $"\"version\": {ScoringModel.Default.Version + 1},", StringComparison.Ordinal));
        return Task.CompletedTask;
    }

    [Fact]
    public async Task Given_views_of_an_older_model_When_Projections_starts_with_a_new_version_Then_they_are_rebuilt_and_no_message_is_sent_again()
    {
        var lead = TestEnvironment.Unique("lead");
        _app = await ProjectionsHostFixture.StartAsync(_schema);
        await AppendAsync(lead, ("page_viewed", "pricing"), ("form_submitted", "demo_request"), ("form_submitted", "contact_sales"));
        (await ViewWhen(lead, v => v.MqlEntries == 1)).ModelVersion.Should().Be(ScoringModel.Default.Version);
        await StopAsync();
        // A rebuild writes no side effects, so it rewrites the schedule itself: start from an empty one to see that.
        (await ProjectionProbe.CountAsync($"with gone as (delete from {_schema}.lifecycle_schedule returning 1) select count(*) from gone"))
            .Should().Be(1, "the MQL lead had its next due instant scheduled");

        _app = await ProjectionsHostFixture.StartAsync(_schema, _nextModel);

        // Start-up returns after the rebuild: the view is already the new model's.
        var rebuilt = await ViewWhen(lead, v => true);
        rebuilt.ModelVersion.Should().Be(ScoringModel.Default.Version + 1);
        rebuilt.EventCount.Should().Be(3);
        rebuilt.Stage.Should().Be(LifecycleStage.Mql);
        rebuilt.NextDueAt.Should().NotBeNull();
        (await ProjectionProbe.CountAsync($"select count(*) from {_schema}.lifecycle_schedule where lead_id = @lead and due_at = @due",
            ("lead", lead), ("due", rebuilt.NextDueAt!.Value))).Should().Be(1, "the rebuild rewrote the lead's next due instant");

        // And the projection goes on applying (before, the state refused the new model and the event was skipped).
        await AppendAsync(lead, ("email_opened", null));
        (await ViewWhen(lead, v => v.EventCount == 4)).ModelVersion.Should().Be(ScoringModel.Default.Version + 1);
        (await CountOutboxRowsAsync(lead)).Should().Be(1, "a rebuild raises no side effects");
    }

    private IDocumentStore Store => _app!.Services.GetRequiredService<IDocumentStore>();

    private Task AppendAsync(string lead, params (string Type, string? Category)[] events) =>
        ProjectionProbe.AppendAsync(Store, lead, DateTimeOffset.UtcNow, events);

    private Task<LeadScoreView> ViewWhen(string lead, Func<LeadScoreView, bool> until) => ProjectionProbe.ViewWhen(Store, lead, until);

    private Task<long> CountOutboxRowsAsync(string lead) =>
        ProjectionProbe.CountAsync($"select count(*) from {_schema}.lifecycle_outbox where lead_id = @lead", ("lead", lead));

    private async Task StopAsync()
    {
        if (_app is null) return;
        await _app.StopAsync();
        await _app.DisposeAsync();
        _app = null;
    }

    public async Task DisposeAsync()
    {
        await StopAsync();
        File.Delete(_nextModel);
        await TestEnvironment.DropSchemaAsync(_schema);
    }
}
