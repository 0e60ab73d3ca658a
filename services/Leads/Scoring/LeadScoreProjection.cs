using System.Diagnostics;
using JasperFx.Events;
using Marten;
using Marten.Events.Aggregation;
using ScoringPlatform.Contracts;
using ScoringPlatform.Leads.EventStore;
using ScoringPlatform.Leads.Lifecycle;
using ScoringPlatform.Scoring;
using ScoringPlatform.ServiceDefaults;

namespace ScoringPlatform.Leads.Scoring;

/// <summary>
/// Folds a lead's events into its <see cref="LeadScoreView"/> with the scoring library and detects stage
/// changes (hysteresis is in the library). A change is recorded on the view with the event that caused
/// it; in continuous (not rebuild) mode the side-effect step writes a lifecycle message to the
/// <see cref="LifecycleOutbox"/> in the same transaction as the view update: a committed stage change
/// always has its message, and nothing is published unless the change is committed.
/// </summary>
public sealed class LeadScoreProjection : SingleStreamProjection<LeadScoreView, string>
{
    public const string ProjectionName = "LeadScore";

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
        if (e.Data is not (EngagementRecorded or ProfileUpdated)) return snapshot;

        var view = snapshot ?? new LeadScoreView
        {
            Id = id,
            State = LeadScoreState.Create(_model),
        };
        view.ModelId = _model.Id;
        view.ModelVersion = _model.Version;

        switch (e.Data)
        {
            case EngagementRecorded r:
                view.State.Apply(new ScoringEvent(r.SourceEventId, r.Type, r.OccurredAt, r.Category, r.ActivityKey), _model);
                Track(view, r.OccurredAt);
                DetectStageChange(view, e, r.SourceEventId);
                break;
            case ProfileUpdated p:
                view.State.ApplyProfile(new LeadProfile(p.Email, p.JobTitle, p.CompanySize, p.Industry, p.Country, p.BudgetAuthority), _model, p.OccurredAt);
                Track(view, p.OccurredAt);
                DetectStageChange(view, e, p.SourceEventId);
                break;
        }

        return view;
    }

    private static void Track(LeadScoreView view, DateTimeOffset occurredAt)
    {
        view.EventCount++;
        if (view.FirstEventAt is null || occurredAt < view.FirstEventAt) view.FirstEventAt = occurredAt;
        if (view.LastEventAt is null || occurredAt > view.LastEventAt) view.LastEventAt = occurredAt;
    }

    private void DetectStageChange(LeadScoreView view, IEvent e, string sourceEventId)
    {
        // Stage is judged at the newest instant the lead has shown, so a late (out-of-order) event
        // cannot move the clock backwards, and a replay judges exactly as the live run did.
        var asOf = view.LastEventAt!.Value;
        var transition = view.State.UpdateStage(asOf, _model);
        view.IsMql = view.State.IsMql;
        if (transition is null) return;

        // transition.At is when the score crossed (for a decay exit it can be before asOf).
        var kind = transition.Direction == StageDirection.EnteredMql ? StageChangeKind.EnteredMql : StageChangeKind.ExitedMql;
        if (kind == StageChangeKind.EnteredMql)
        {
            view.MqlCrossings++;
            view.LastCrossedAt = transition.At;
        }

        var verdict = Scorer.Evaluate(view.State, _model, asOf);
        view.RecentStageChanges.Add(new StageChange(
            kind, e.Id, sourceEventId, transition.At, transition.TotalScore, verdict.FitScore, verdict.EngagementScore,
            transition.Tier.ToString(), TraceParentHeader(e), transition.Reason));
        if (view.RecentStageChanges.Count > LeadScoreView.StageChangesKept)
        {
            view.RecentStageChanges.RemoveRange(0, view.RecentStageChanges.Count - LeadScoreView.StageChangesKept);
        }
    }

    private static string? TraceParentHeader(IEvent e) =>
        e.Headers is { } headers && headers.TryGetValue(EventHeaders.TraceParent, out var value) ? value?.ToString() : null;

    public override ValueTask RaiseSideEffects(IDocumentOperations operations, IEventSlice<LeadScoreView> slice)
    {
        var view = slice.Snapshot;
        if (view is null || view.RecentStageChanges.Count == 0) return ValueTask.CompletedTask;

        // Only changes caused by an event in this slice: each event is in exactly one committed slice, so
        // each change is written once; a failed page rolls back with its rows and is re-run from the
        // committed view (Marten reloads it; the aggregate cache stays off, see LeadEventStore).
        HashSet<Guid>? inSlice = null;
        foreach (var change in view.RecentStageChanges)
        {
            inSlice ??= slice.Events().Select(x => x.Id).ToHashSet();
            if (!inSlice.Contains(change.TriggeringEventId)) continue;

            using var activity = PlatformTelemetry.Source.StartActivity(
                "lead-score project", ActivityKind.Internal, PlatformTelemetry.ParseTraceParent(change.TraceParent));
            activity?.SetTag("lead.id", view.Id);
            activity?.SetTag("lead.stage_change", change.Kind.ToString());
            var traceParent = PlatformTelemetry.TraceParentOf(activity) ?? change.TraceParent;

            var type = change.Kind == StageChangeKind.EnteredMql ? LifecycleMessageTypes.MqlCrossed : LifecycleMessageTypes.MqlExited;
            var message = new LeadLifecycleMessage
            {
                MessageId = LifecycleOutbox.MessageId(type, view.Id, change.TriggeringEventId),
                Type = type,
                LeadId = view.Id,
                OccurredAt = change.At,
                Score = change.Score,
                FitScore = change.FitScore,
                EngagementScore = change.EngagementScore,
                Tier = change.Kind == StageChangeKind.EnteredMql ? change.Tier : null,
                ModelId = view.ModelId,
                ModelVersion = view.ModelVersion,
                TriggeringEventId = change.TriggeringSourceEventId,
                Reason = change.Reason,
            };
            LifecycleOutbox.Enqueue(operations, _schema, message, traceParent);
        }

        return ValueTask.CompletedTask;
    }
}
