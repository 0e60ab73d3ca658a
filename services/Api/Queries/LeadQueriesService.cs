using Microsoft.AspNetCore.Authorization;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Marten;
using Microsoft.Extensions.Options;
using ScoringPlatform.Api.Feedback;
using ScoringPlatform.Api.V1;
using ScoringPlatform.Api.Verdicts;
using ScoringPlatform.Contracts;
using ScoringPlatform.Leads;
using ScoringPlatform.Leads.EventStore;
using ScoringPlatform.Leads.Identity;
using ScoringPlatform.Leads.Lifecycle;
using ScoringPlatform.Leads.ReadModel;
using Domain = ScoringPlatform.Scoring;
using ScoringPlatform.Api.Auth;

namespace ScoringPlatform.Api.Queries;

/// <summary>
/// Lead lists over the score views' duplicated columns (stage, tier, mql_entered_at, sla_due_at; indexed, see
/// LeadEventStore), with keyset paging and without views merged into another lead, and one lead's timeline from its stream and the lifecycle outbox.
/// </summary>
[Authorize(Policy = ApiScopes.LeadsRead)]
public sealed class LeadQueriesService(IQuerySession session, IOptions<EventStoreOptions> options, ScoringModelProvider models, TimeProvider clock)
    : LeadQueries.LeadQueriesBase
{
    public const int DefaultPageSize = 50;
    public const int MaxPageSize = 500;
    public const int DefaultTimelineItems = 500;
    public const int MaxTimelineItems = 1000;

    // Nulls sort as these instants, so the keyset comparison needs no null cases (leads never an MQL last, leads
    // with no running SLA deadline last).
    private static readonly DateTimeOffset NeverMql = new(1900, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset NoDeadline = new(9999, 1, 1, 0, 0, 0, TimeSpan.Zero);

    public override async Task<ListLeadsResponse> ListLeads(ListLeadsRequest request, ServerCallContext context)
    {
        var pageSize = request.PageSize switch
        {
            0 => DefaultPageSize,
            < 0 or > MaxPageSize => throw Invalid($"page_size must be 1-{MaxPageSize}"),
            var n => n,
        };
        var order = request.OrderBy == LeadOrder.Unspecified ? LeadOrder.NewestMql : request.OrderBy;
        var (sortColumn, sentinel, descending) = order switch
        {
            LeadOrder.NewestMql => ("mql_entered_at", NeverMql, true),
            LeadOrder.SlaDue => ("sla_due_at", NoDeadline, false),
            _ => throw Invalid($"order_by {request.OrderBy} is not supported"),
        };

        var sort = $"coalesce(d.{sortColumn}, ?)";
        // A view whose identity was linked into another lead keeps its last stage; it is not a lead of its own any more.
        var where = new List<string> { "d.data ->> 'MergedInto' is null" };
        var parameters = new List<object>();
        if (request.Stage != LeadStage.Unspecified)
        {
            var stage = SalesFeedbackService.FromProto(request.Stage) ?? throw Invalid($"stage {request.Stage} is not a lead stage");
            where.Add("d.stage = ?");
            parameters.Add(stage.ToString());
        }

        if (request.Tier != MqlTier.Unspecified)
        {
            where.Add("d.tier = ?");
            parameters.Add(FromProto(request.Tier).ToString());
        }

        if (!string.IsNullOrEmpty(request.PageToken))
        {
            var (at, id) = ReadToken(request.PageToken);
            where.Add($"({sort} {(descending ? "<" : ">")} ? or ({sort} = ? and d.id > ?))");
            parameters.AddRange([sentinel, at, sentinel, at, id]);
        }

        parameters.Add(sentinel);
        parameters.Add(pageSize + 1);
        var sql = (where.Count > 0 ? "where " + string.Join(" and ", where) : "") +
                  $" order by {sort} {(descending ? "desc" : "asc")}, d.id limit ?";
        var views = await session.QueryAsync<LeadScoreView>(sql, context.CancellationToken, parameters.ToArray());

        var response = new ListLeadsResponse();
        var now = clock.GetUtcNow();
        foreach (var view in views.Take(pageSize))
        {
            var summary = ToSummary(view);
            if (request.IncludeScores) summary.Scores = ScoresOf(view, now);
            response.Leads.Add(summary);
        }
        if (views.Count > pageSize)
        {
            var last = views[pageSize - 1];
            var key = (order == LeadOrder.NewestMql ? last.MqlEnteredAt : last.SlaDueAt) ?? sentinel;
            response.NextPageToken = WriteToken(key, last.Id);
        }

        return response;
    }

    public override async Task<LeadTimelineResponse> GetLeadTimeline(GetLeadTimelineRequest request, ServerCallContext context)
    {
        if (LeadIds.Problem(request.LeadId) is { } problem) throw Invalid(problem);
        var max = request.MaxItems switch
        {
            0 => DefaultTimelineItems,
            < 0 or > MaxTimelineItems => throw Invalid($"max_items must be 1-{MaxTimelineItems}"),
            var n => n,
        };
        var ct = context.CancellationToken;
        var survivor = await IdentityAliases.SurvivorOfAsync(session, options.Value.Schema, request.LeadId, ct);
        var leadId = survivor ?? request.LeadId;
        var state = await session.Events.FetchStreamStateAsync(leadId, ct)
            ?? throw new RpcException(new Status(StatusCode.NotFound, $"lead '{leadId}' is not known (no events stored)"));

        var from = Math.Max(1, state.Version - max + 1);
        // The whole stream: score changes need every earlier input; only the newest max events are returned.
        var events = await session.Events.FetchStreamAsync(leadId, token: ct);
        var result = new LeadTimelineResponse { LeadId = leadId, StreamVersion = state.Version, EventsTruncated = from > 1 };
        if (survivor is not null) result.RequestedId = request.LeadId;
        var model = models.Current;
        var lifecycle = Domain.Lifecycle.LeadLifecycle.Create(model);
        foreach (var e in events)
        {
            var change = ScoreChangeOf(lifecycle, e, model);
            if (e.Version < from) continue;
            var item = ToProto(e);
            if (change is not null) item.ScoreChange = change;
            result.Events.Add(item);
        }

        // The newest max + 1 rows tell whether older ones were left out; shown oldest first, by the instant they describe.
        var payloads = await session.QueryAsync<string>(
            LifecycleOutbox.NewestOfLeadSql(options.Value.Schema), ct, leadId, max + 1);
        result.TransitionsTruncated = payloads.Count > max;
        var messages = payloads.Take(max)
            .Select((p, i) => (Message: JsonSerializer.Deserialize<LeadLifecycleMessage>(p, ContractJson.Options)!, Newest: i))
            .OrderBy(m => m.Message.OccurredAt).ThenByDescending(m => m.Newest);
        foreach (var (m, _) in messages) result.Transitions.Add(ToProto(m));
        return result;
    }

    /// <summary>Records the event into <paramref name="lifecycle"/>; for an engagement or profile event, the score before and after it.</summary>
    private static ScoreChange? ScoreChangeOf(Domain.Lifecycle.LeadLifecycle lifecycle, JasperFx.Events.IEvent e, Domain.ScoringModel model)
    {
        if (e.Data is not (EngagementRecorded or ProfileUpdated) || LeadEventInputs.From(e.Data) is not { } input)
        {
            LeadEventInputs.Record(lifecycle, e, model);
            return null;
        }

        var clock = new DateTimeOffset(Math.Max(lifecycle.EvaluatedUntilTicks, input.At.UtcTicks), TimeSpan.Zero);
        var before = Domain.Scorer.TotalScore(lifecycle.Head!.Score, model, clock);
        Domain.Lifecycle.LeadTimeline.Record(lifecycle, input, model);
        var after = Domain.Scorer.Evaluate(lifecycle.Head!.Score, model, clock);
        return new ScoreChange
        {
            AsOf = Timestamp.FromDateTimeOffset(clock),
            TotalBefore = before,
            TotalAfter = after.TotalScore,
            FitAfter = after.FitScore,
            EngagementAfter = after.EngagementScore,
        };
    }

    /// <summary>The lead's scores at <paramref name="now"/>, or null when its view was built by another model (a rebuild is pending).</summary>
    private LeadScores? ScoresOf(LeadScoreView view, DateTimeOffset now)
    {
        var model = models.Current;
        if (view.ModelId != model.Id || view.ModelVersion != model.Version || view.Lifecycle.Head is null) return null;
        var verdict = Domain.Scorer.Evaluate(view.State, model, now);
        return new LeadScores
        {
            AsOf = Timestamp.FromDateTimeOffset(now),
            TotalScore = verdict.TotalScore,
            FitScore = verdict.FitScore,
            EngagementScore = verdict.EngagementScore,
            ModelId = verdict.ModelId,
            ModelVersion = verdict.ModelVersion,
        };
    }

    private static LeadSummary ToSummary(LeadScoreView view)
    {
        var summary = new LeadSummary
        {
            LeadId = view.Id,
            Stage = VerdictMapper.ToProto(view.Stage),
            Tier = VerdictMapper.ToProto(view.Tier),
            StageReason = view.StageReason ?? "",
            MqlEntries = view.MqlEntries,
            EventCount = view.EventCount,
        };
        if (view.StageSince is { } since) summary.StageSince = Timestamp.FromDateTimeOffset(since);
        if (view.MqlEnteredAt is { } entered) summary.MqlEnteredAt = Timestamp.FromDateTimeOffset(entered);
        if (view.Sla is { } sla) summary.Sla = VerdictMapper.ToProto(sla);
        if (view.EvaluatedUntil is { } until) summary.EvaluatedUntil = Timestamp.FromDateTimeOffset(until);
        if (view.LastEventAt is { } last) summary.LastEventAt = Timestamp.FromDateTimeOffset(last);
        return summary;
    }

    private static TimelineEvent ToProto(JasperFx.Events.IEvent e)
    {
        var item = new TimelineEvent
        {
            EventId = e.Id.ToString(),
            Version = e.Version,
            Type = e.Data.GetType().Name,
            RecordedAt = Timestamp.FromDateTimeOffset(e.Timestamp),
        };
        DateTimeOffset? occurred = null;
        switch (e.Data)
        {
            case EngagementRecorded r:
                occurred = r.OccurredAt;
                item.EngagementType = r.Type;
                item.Category = r.Category ?? "";
                item.Source = r.Source ?? "";
                item.Campaign = r.Campaign ?? "";
                item.SourceEventId = r.SourceEventId;
                break;
            case ProfileUpdated p:
                occurred = p.OccurredAt;
                item.Source = p.Source ?? "";
                item.SourceEventId = p.SourceEventId;
                break;
            case SalesFeedbackRecorded s:
                occurred = s.At;
                item.Feedback = new SalesFeedbackEntry
                {
                    Action = SalesFeedbackService.ToProto(s.Action),
                    Actor = s.Actor,
                    Reason = s.Reason ?? "",
                    Amount = s.Amount?.ToString(CultureInfo.InvariantCulture) ?? "",
                    IdempotencyKey = s.IdempotencyKey,
                    ExpectedStage = s.ExpectedStage is { } expected ? VerdictMapper.ToProto(expected) : LeadStage.Unspecified,
                };
                break;
            case LifecycleClockTicked t:
                occurred = t.DueAt;
                break;
            case IdentityLinked l:
                occurred = l.OccurredAt;
                item.SourceEventId = l.SourceEventId;
                item.LinkedIdentity = VerdictMapper.ToProto(l);
                break;
            case MergedInto m:
                occurred = m.OccurredAt;
                item.SourceEventId = m.SourceEventId;
                item.MergedInto = m.LeadId;
                break;
        }

        if (occurred is { } at) item.OccurredAt = Timestamp.FromDateTimeOffset(at);
        return item;
    }

    private static TimelineTransition ToProto(LeadLifecycleMessage m)
    {
        var t = new TimelineTransition
        {
            MessageId = m.MessageId.ToString(),
            Type = m.Type,
            OccurredAt = Timestamp.FromDateTimeOffset(m.OccurredAt),
            TransitionId = m.TransitionId ?? "",
            FromStage = m.FromStage ?? "",
            ToStage = m.ToStage ?? "",
            FromTier = m.FromTier ?? "",
            Tier = m.Tier ?? "",
            CauseKind = m.Cause?.Kind ?? "",
            CauseId = m.Cause?.Id ?? "",
            TriggeringEventId = m.TriggeringEventId ?? "",
            Reason = m.Reason ?? "",
            Score = m.Score,
            FitScore = m.FitScore,
            EngagementScore = m.EngagementScore,
            ModelId = m.ModelId,
            ModelVersion = m.ModelVersion,
            Actor = m.Actor ?? "",
            Amount = m.Amount?.ToString(CultureInfo.InvariantCulture) ?? "",
            Reactivated = m.Reactivated,
        };
        if (m.SlaDeadline is { } deadline) t.SlaDeadline = Timestamp.FromDateTimeOffset(deadline);
        return t;
    }

    private static Domain.MqlTier FromProto(MqlTier tier) => tier switch
    {
        MqlTier.None => Domain.MqlTier.None,
        MqlTier.MqlLight => Domain.MqlTier.MqlLight,
        MqlTier.Mql => Domain.MqlTier.Mql,
        MqlTier.HotMql => Domain.MqlTier.HotMql,
        _ => throw Invalid($"tier {tier} is not an MQL tier"),
    };

    // Opaque to clients: the sort key and id of the page's last lead. The key is truncated to the microsecond, as the
    // duplicated column stores it (Npgsql drops the rest): compared at full precision, the last lead would come again.
    private static string WriteToken(DateTimeOffset at, string id) =>
        Convert.ToBase64String(Encoding.UTF8.GetBytes(
            $"{(at.UtcTicks - at.UtcTicks % TimeSpan.TicksPerMicrosecond).ToString(CultureInfo.InvariantCulture)}|{id}"));

    private static (DateTimeOffset At, string Id) ReadToken(string token)
    {
        try
        {
            var text = Encoding.UTF8.GetString(Convert.FromBase64String(token));
            var bar = text.IndexOf('|', StringComparison.Ordinal);
            return (new DateTimeOffset(long.Parse(text[..bar], CultureInfo.InvariantCulture), TimeSpan.Zero), text[(bar + 1)..]);
        }
        catch (Exception ex) when (ex is FormatException or ArgumentException or OverflowException)
        {
            throw Invalid("page_token is not a token this service issued");
        }
    }

    private static RpcException Invalid(string message) => new(new Status(StatusCode.InvalidArgument, message));
}
