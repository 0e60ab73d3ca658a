using System.Diagnostics;
using System.Text.Json.Serialization;
using JasperFx.Events;
using Marten;
using Marten.Events.Aggregation;
using ScoringPlatform.Contracts;
using ScoringPlatform.Leads.EventStore;
using ScoringPlatform.Leads.Lifecycle;
using ScoringPlatform.Scoring;
using ScoringPlatform.Scoring.Lifecycle;
using ScoringPlatform.ServiceDefaults;

namespace ScoringPlatform.Leads.ReadModel;

/// <summary>
/// Folds a lead's stream into its <see cref="LeadScoreView"/> with the pure lifecycle library
/// (<see cref="LeadTimeline"/>): engagement, profile and sales feedback events are inputs in time order (a late event
/// re-evaluates from its instant), scheduler ticks move the lead's clock. In continuous (not rebuild) mode the
/// side-effect step writes, in the same transaction as the view, one <see cref="LifecycleOutbox"/> row per new
/// transition (and per retraction of one a late event superseded), and the lead's next due instant to the
/// <see cref="LifecycleSchedule"/>. The projection never appends events.
/// </summary>
public sealed class LeadScoreProjection : SingleStreamProjection<LeadScoreView, string>
{
    public const string ProjectionName = "LeadScore";
    public const int RefusalsKept = 8;

    /// <summary>
    /// NOTIFY channel the projection signals when score views change (delivered at commit; payload empty), and with
    /// payload <c>reset</c> after a rebuild rewrote them all. Readers then read rows above the last
    /// <see cref="LeadScoreView.LastSequence"/> they saw, or everything after a reset.
    /// </summary>
    public static string ChangesChannel(string schema) => $"{schema}_lead_views";

    private readonly ScoringModel _model;
    private readonly string _schema;

    public LeadScoreProjection(ScoringModel model, string schema)
    {
        _model = model;
        _schema = schema;
        Name = ProjectionName;
    }

    public override LeadScoreView? Evolve(LeadScoreView? snapshot, string id, IEvent e)
    {
        switch (e.Data)
        {
            case IdentityLinked linked:
                // Not an input (the copies before it are): listed in the verdict. A link can be the lead's first event.
                var owner = Touch(snapshot, id, e);
                if (!owner.LinkedIdentities.Exists(l => l.LinkedKey == linked.LinkedKey)) owner.LinkedIdentities.Add(linked);
                return owner;
            case MergedInto merged when snapshot is not null:
                // Its history now counts for the survivor: this view keeps its last state, says where it went, and no
                // longer schedules anything (a clock tick already queued is ignored below).
                snapshot.MergedInto = merged.LeadId;
                Stamp(snapshot, e);
                if (snapshot.NextDueAt is not null)
                {
                    snapshot.NextDueAt = null;
                    snapshot.ScheduleChanged = true;
                }

                return snapshot;
        }

        if (e.Data is not (EngagementRecorded or ProfileUpdated or SalesFeedbackRecorded or LifecycleClockTicked) || snapshot?.MergedInto is not null)
        {
            if (snapshot is not null) Stamp(snapshot, e);
            return snapshot;
        }

        // A clock tick for a lead with no view yet has nothing to move (it cannot happen: ticks follow scheduled inputs).
        if (snapshot is null && e.Data is LifecycleClockTicked) return null;
        var view = Touch(snapshot, id, e);

        switch (e.Data)
        {
            case EngagementRecorded r:
                Track(view, r.OccurredAt);
                break;
            case ProfileUpdated p:
                Track(view, p.OccurredAt);
                break;
        }

        var update = LeadEventInputs.Record(view.Lifecycle, e, _model)!;
        var clock = view.Lifecycle.EvaluatedUntilTicks is var ticks and > 0 ? new DateTimeOffset(ticks, TimeSpan.Zero) : (DateTimeOffset?)null;
        var due = LifecycleSchedule.StoredInstant(update.NextDueAt);
        // The schedule row changes with the due instant only (a tick's due instant is always a new one, so the row the
        // scheduler deleted after appending it is written again).
        if (due != view.NextDueAt) view.ScheduleChanged = true;
        view.Denormalise(update.Status, clock, due);
        if (view.Lifecycle.Transitions.LastOrDefault(t => t.Kind == TransitionKind.MqlEntered) is { } entered) view.MqlEnteredAt = entered.At;
        if (update.Refusals.Count > 0)
        {
            view.RecentRefusals.AddRange(update.Refusals);
            if (view.RecentRefusals.Count > RefusalsKept) view.RecentRefusals.RemoveRange(0, view.RecentRefusals.Count - RefusalsKept);
        }

        if (update.Emitted.Count > 0 || update.Superseded.Count > 0)
        {
            view.Pending.Add(new PendingMessages(update.Emitted, update.Superseded, TraceParentHeader(e)));
        }

        return view;
    }

    private LeadScoreView Touch(LeadScoreView? snapshot, string id, IEvent e)
    {
        var view = snapshot ?? new LeadScoreView { Id = id, Lifecycle = LeadLifecycle.Create(_model) };
        view.ModelId = _model.Id;
        view.ModelVersion = _model.Version;
        view.Layout = LeadScoreView.CurrentLayout;
        Stamp(view, e);
        return view;
    }

    private static void Stamp(LeadScoreView view, IEvent e)
    {
        view.StreamVersion = e.Version;
        view.LastSequence = e.Sequence;
    }

    private static void Track(LeadScoreView view, DateTimeOffset occurredAt)
    {
        view.EventCount++;
        if (view.FirstEventAt is null || occurredAt < view.FirstEventAt) view.FirstEventAt = occurredAt;
        if (view.LastEventAt is null || occurredAt > view.LastEventAt) view.LastEventAt = occurredAt;
    }

    private static string? TraceParentHeader(IEvent e) =>
        e.Headers is { } headers && headers.TryGetValue(EventHeaders.TraceParent, out var value) ? value?.ToString() : null;

    public override ValueTask RaiseSideEffects(IDocumentOperations operations, IEventSlice<LeadScoreView> slice)
    {
        // Evolve ran for this slice's events on a view loaded from the committed document (the aggregate cache is
        // off, see LeadEventStore), so Pending holds exactly what this slice changed; a page that fails rolls back
        // with these rows and is re-run from the committed view, writing the same message ids.
        var view = slice.Snapshot;
        if (view is null) return ValueTask.CompletedTask;
        // PostgreSQL folds identical notifications of one transaction into one, delivered at commit. NOTIFY, not
        // pg_notify: a queued command must return no rows (Marten reads a batch's results by position) and be one statement.
        operations.QueueSqlCommand($"notify \"{ChangesChannel(_schema)}\"");
        foreach (var pending in view.Pending)
        {
            foreach (var retracted in pending.Superseded) Enqueue(operations, view, retracted, pending.TraceParent, retraction: true);
            foreach (var transition in pending.Emitted) Enqueue(operations, view, transition, pending.TraceParent, retraction: false);
        }

        view.Pending.Clear();
        if (view.ScheduleChanged) LifecycleSchedule.Enqueue(operations, _schema, view.Id, view.NextDueAt);
        view.ScheduleChanged = false;
        return ValueTask.CompletedTask;
    }

    private void Enqueue(IDocumentOperations operations, LeadScoreView view, LifecycleTransition t, string? traceParent, bool retraction)
    {
        var type = retraction ? LifecycleMessageTypes.TransitionRetracted : MessageType(t.Kind);
        using var activity = PlatformTelemetry.Source.StartActivity(
            "lead-lifecycle transition", ActivityKind.Internal, PlatformTelemetry.ParseTraceParent(traceParent));
        activity?.SetTag("lead.id", view.Id);
        activity?.SetTag("lead.transition", type);
        var message = ToMessage(view.Id, t, type, retraction);
        LifecycleOutbox.Enqueue(operations, _schema, message, PlatformTelemetry.TraceParentOf(activity) ?? traceParent);
    }

    /// <summary>The outbox message of a transition (or of its retraction): message id from the lead and the transition id.</summary>
    public static LeadLifecycleMessage ToMessage(string leadId, LifecycleTransition t, string type, bool retraction) => new()
    {
        MessageId = LifecycleOutbox.MessageId(leadId, t.Id, retraction),
        Type = type,
        LeadId = leadId,
        OccurredAt = t.At,
        TransitionId = t.Id,
        FromStage = t.From.ToString(),
        ToStage = t.To.ToString(),
        FromTier = t.FromTier.ToString(),
        Tier = t.ToTier.ToString(),
        Cause = new LifecycleCause(t.Cause.Kind.ToString(), t.Cause.Id),
        Reactivated = t.IsReactivation,
        Score = t.Scores.Total,
        FitScore = t.Scores.Fit,
        EngagementScore = t.Scores.Engagement,
        ModelId = t.ModelId,
        ModelVersion = t.ModelVersion,
        TriggeringEventId = t.TriggeringInputId,
        Reason = retraction ? $"retracted: a late event changed the history before it ({t.Kind} at {t.At:O})" : t.Reason,
        Actor = t.Actor,
        Amount = t.Amount,
        SlaDeadline = t.SlaDeadline,
    };

    public static string MessageType(TransitionKind kind) => kind switch
    {
        TransitionKind.MqlEntered => LifecycleMessageTypes.MqlCrossed,
        TransitionKind.TierChanged => LifecycleMessageTypes.MqlTierChanged,
        TransitionKind.Recycled => LifecycleMessageTypes.LeadRecycled,
        TransitionKind.Disqualified => LifecycleMessageTypes.LeadDisqualified,
        TransitionKind.DisqualificationLifted => LifecycleMessageTypes.DisqualificationLifted,
        TransitionKind.SalesAccepted => LifecycleMessageTypes.SalesAccepted,
        TransitionKind.SalesQualified => LifecycleMessageTypes.SalesQualified,
        TransitionKind.Converted => LifecycleMessageTypes.LeadConverted,
        TransitionKind.SlaBreached => LifecycleMessageTypes.SlaBreached,
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "no lifecycle message type"),
    };
}

/// <summary>What one event changed, waiting for the slice's side-effect step (never stored).</summary>
public sealed record PendingMessages(IReadOnlyList<LifecycleTransition> Emitted, IReadOnlyList<LifecycleTransition> Superseded, string? TraceParent);
