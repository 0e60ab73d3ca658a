using System.Diagnostics;
using JasperFx.Events;
using Marten;
using Microsoft.Extensions.Options;
using Npgsql;
using ScoringPlatform.Leads;
using ScoringPlatform.Leads.EventStore;
using ScoringPlatform.Leads.Identity;
using ScoringPlatform.Leads.Lifecycle;
using ScoringPlatform.Leads.ReadModel;
using ScoringPlatform.Scoring.Lifecycle;
using ScoringPlatform.ServiceDefaults;

namespace ScoringPlatform.Api.Feedback;

/// <summary>What recording a sales action came to.</summary>
public abstract record FeedbackResult
{
    /// <summary>Stored now, or found stored by an earlier call with the same key (<paramref name="Replay"/>).</summary>
    public sealed record Recorded(SalesFeedbackRecorded Event, Guid EventId, long Version, bool Replay) : FeedbackResult;

    public sealed record UnknownLead : FeedbackResult;

    /// <summary>The lifecycle refused the action (or the key was used for another request); nothing was written.</summary>
    public sealed record Refused(string Reason, LifecycleStage? CurrentStage) : FeedbackResult;
}

/// <summary>
/// Decides a sales action against the lead's lifecycle and appends it, in one PostgreSQL transaction that first
/// locks the lead's stream row. Ingestion's quick append and any other feedback call update that row, so they wait:
/// the decision sees every event stored before it, and two actions on one lead are decided one after the other
/// (the second against the stage the first produced).
/// </summary>
public sealed class SalesFeedbackRecorder(IDocumentStore store, IOptions<EventStoreOptions> options, ScoringModelProvider models, TimeProvider clock)
{
    public const string EventKind = "sales-feedback";
    private const string UniqueViolation = "23505";

    public static Guid EventId(string leadId, string idempotencyKey) => EventIds.Derived(EventKind, leadId, idempotencyKey);

    /// <param name="atGiven">
    /// False when the caller did not date the action: it is dated when the lead's lock is held (so actions decided one
    /// after the other are dated in that order), and a retry matches whatever instant the first call took.
    /// </param>
    public async Task<FeedbackResult> RecordAsync(string leadId, SalesFeedbackRecorded feedback, bool atGiven, CancellationToken ct)
    {
        try
        {
            return await TryRecordAsync(leadId, feedback, atGiven, ct);
        }
        catch (Exception ex) when (IsUniqueViolation(ex))
        {
            // The row lock serialises the Api's calls on one lead, so this takes a writer outside it that stored the
            // same event id meanwhile; the unique index kept it once, and the second attempt answers as a replay.
            return await TryRecordAsync(leadId, feedback, atGiven, ct);
        }
    }

    private async Task<FeedbackResult> TryRecordAsync(string leadId, SalesFeedbackRecorded feedback, bool atGiven, CancellationToken ct)
    {
        var schema = options.Value.Schema;
        var model = models.Current;
        var eventId = EventId(leadId, feedback.IdempotencyKey);

        await using var session = store.LightweightSession();
        await session.BeginTransactionAsync(ct);
        // Ingestion's identity lock on the lead, taken before the stream row like Ingestion does: a merge of this lead
        // is decided entirely before or after this action.
        var aliases = await IdentityAliases.LockAndResolveAsync(session.Connection!, schema, [leadId], [leadId], ct);
        if (aliases.TryGetValue(leadId, out var survivor))
        {
            return new FeedbackResult.Refused(
                $"lead '{leadId}' was merged into lead '{survivor}'; record sales feedback on '{survivor}'", null);
        }

        long version;
        await using (var lockRow = new NpgsqlCommand($"select version from {schema}.mt_streams where id = @lead for update", session.Connection))
        {
            lockRow.Parameters.AddWithValue("lead", leadId);
            if (await lockRow.ExecuteScalarAsync(ct) is not { } current || current is DBNull) return new FeedbackResult.UnknownLead();
            version = Convert.ToInt64(current, System.Globalization.CultureInfo.InvariantCulture);
        }

        if (!atGiven)
        {
            var now = clock.GetUtcNow();
            feedback = feedback with { At = now, RecordedAt = now };
        }

        if (await session.Events.LoadAsync(eventId, ct) is { } stored)
        {
            return stored.Data is SalesFeedbackRecorded earlier && SameRequest(earlier, feedback, atGiven)
                ? new FeedbackResult.Recorded(earlier, eventId, stored.Version, Replay: true)
                : new FeedbackResult.Refused(
                    $"idempotency key '{feedback.IdempotencyKey}' was already used for a different request on this lead", null);
        }

        var lifecycle = await CurrentLifecycleAsync(session, leadId, model, ct);
        var status = lifecycle.Status;
        var latestSales = lifecycle.Inputs.OfType<SalesInput>().Select(s => (DateTimeOffset?)s.At).Max();
        if (latestSales is { } latest && feedback.At < latest)
        {
            // An action the current stage refuses anyway says so; the ordering is the reason only for one it would allow.
            if (SalesDecisions.Decide(status, feedback.ToAction(), feedback.At) is { Accepted: false } decision)
                return new FeedbackResult.Refused($"{decision.Reason} (current stage: {status.Stage})", status.Stage);
            return new FeedbackResult.Refused(
                $"the action is dated {feedback.At:O}, before the lead's latest sales action ({latest:O}); sales actions are kept in order. " +
                $"Current stage: {status.Stage}", status.Stage);
        }

        // Nothing else appends while the row is locked: the action is stored at the next version, which orders it
        // after every action stored before it at the same instant.
        feedback = feedback with { StreamVersion = version + 1 };
        var update = LeadTimeline.Record(lifecycle, new SalesInput(feedback.ToAction()), model);
        if (update.Refusals.FirstOrDefault(r => r.IdempotencyKey == feedback.IdempotencyKey) is { } refusal)
        {
            return new FeedbackResult.Refused($"{refusal.Reason} (current stage: {refusal.CurrentStage})", refusal.CurrentStage);
        }

        var append = session.Events.Append(leadId, feedback);
        append.Events[0].Id = eventId;
        // The projection continues this trace when it writes the transition the action caused.
        if (PlatformTelemetry.TraceParentOf(Activity.Current) is { } traceParent) append.Events[0].SetHeader(EventHeaders.TraceParent, traceParent);
        await session.SaveChangesAsync(ct);
        return new FeedbackResult.Recorded(feedback, eventId, append.Events[0].Version, Replay: false);
    }

    /// <summary>
    /// The lead's lifecycle through the newest stored event: the score view (which may lag the stream) plus the events
    /// after the version it applied, or, without a usable view, a fresh lifecycle over the whole stream.
    /// </summary>
    private static async Task<LeadLifecycle> CurrentLifecycleAsync(IDocumentSession session, string leadId, Scoring.ScoringModel model, CancellationToken ct)
    {
        var view = await session.LoadAsync<LeadScoreView>(leadId, ct);
        var usable = view is not null && view.ModelId == model.Id && view.ModelVersion == model.Version && view.Layout == LeadScoreView.CurrentLayout;
        // The view was loaded for this call only and is never stored: its lifecycle is ours to change.
        var lifecycle = usable ? view!.Lifecycle : LeadLifecycle.Create(model);
        var from = usable ? view!.StreamVersion + 1 : 0;
        IReadOnlyList<IEvent> events = await session.Events.FetchStreamAsync(leadId, fromVersion: from, token: ct);
        foreach (var e in events)
        {
            if (e.Version < from) continue;
            LeadEventInputs.Record(lifecycle, e, model);
        }

        return lifecycle;
    }

    private static bool SameRequest(SalesFeedbackRecorded earlier, SalesFeedbackRecorded now, bool atGiven) =>
        earlier.Action == now.Action &&
        earlier.Actor == now.Actor &&
        (earlier.Reason ?? "") == (now.Reason ?? "") &&
        earlier.ExpectedStage == now.ExpectedStage &&
        earlier.Amount == now.Amount &&
        (!atGiven || earlier.At == now.At);

    private static bool IsUniqueViolation(Exception ex)
    {
        for (var e = ex; e is not null; e = e.InnerException)
        {
            if (e is PostgresException { SqlState: UniqueViolation }) return true;
        }

        return false;
    }
}
