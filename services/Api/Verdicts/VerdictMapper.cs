using Google.Protobuf.WellKnownTypes;
using ScoringPlatform.Api.V1;
using ScoringPlatform.Leads;
using ScoringPlatform.Leads.ReadModel;
using ScoringPlatform.Scoring.Lifecycle;
using Domain = ScoringPlatform.Scoring;

namespace ScoringPlatform.Api.Verdicts;

public static class VerdictMapper
{
    /// <summary>The verdict: scores and explanation from the score state, stage and tier from the lifecycle status at as_of.</summary>
    public static V1.Verdict ToProto(string leadId, DateTimeOffset asOf, LeadScoreView view, Domain.Verdict verdict, LifecycleStatus status)
    {
        var isMql = status.Stage == LifecycleStage.Mql;
        var result = new V1.Verdict
        {
            LeadId = leadId,
            AsOf = Timestamp.FromDateTimeOffset(asOf),
            IsMql = isMql,
            Tier = ToProto(isMql ? status.Tier : Domain.MqlTier.None),
            Stage = ToProto(status.Stage),
            StageReason = status.Reason ?? "",
            MqlEntries = status.MqlEntries,
            TotalScore = verdict.TotalScore,
            FitScore = verdict.FitScore,
            EngagementScore = verdict.EngagementScore,
            MatrixCell = verdict.MatrixCell,
            ModelId = verdict.ModelId,
            ModelVersion = verdict.ModelVersion,
            EventCount = view.EventCount,
            QualifiedBy = isMql ? verdict.QualifiedBy ?? "" : "",
            TierReason = verdict.TierReason ?? "",
        };
        if (status.Since is { } since) result.StageSince = Timestamp.FromDateTimeOffset(since);
        if (status.Sla is { } sla) result.Sla = ToProto(sla);
        if (view.LastEventAt is { } last) result.LastEventAt = Timestamp.FromDateTimeOffset(last);
        if (verdict.DropsBelowExitAt is { } drops) result.DropsBelowExitAt = Timestamp.FromDateTimeOffset(drops);
        if (verdict.Disqualification is { } d)
        {
            result.Disqualification = new Disqualification { RuleId = d.RuleId, Reason = d.Reason };
        }

        foreach (var linked in view.LinkedIdentities) result.LinkedIdentities.Add(ToProto(linked));
        foreach (var c in verdict.Contributions)
        {
            var rule = new RuleContribution
            {
                RuleId = c.RuleId,
                Group = c.Group ?? "",
                RawPoints = c.RawPoints,
                Contribution = c.Contribution,
                Count = c.Count,
            };
            if (c.LastOccurredAt is { } at) rule.LastOccurredAt = Timestamp.FromDateTimeOffset(at);
            rule.TopEventIds.AddRange(c.TopEventIds);
            result.Contributions.Add(rule);
        }

        return result;
    }

    public static LinkedIdentity ToProto(IdentityLinked linked) => new()
    {
        Id = linked.LinkedId,
        StreamKey = linked.LinkedKey,
        Kind = linked.Kind == IdentityKind.Lead ? "lead" : "anonymous",
        LinkedAt = Timestamp.FromDateTimeOffset(linked.OccurredAt),
        SourceEventId = linked.SourceEventId,
        EventsCopied = linked.EventsCopied,
    };

    public static V1.SlaStatus ToProto(Domain.Lifecycle.SlaStatus sla)
    {
        var result = new V1.SlaStatus
        {
            Tier = ToProto(sla.Tier),
            StartedAt = Timestamp.FromDateTimeOffset(sla.StartedAt),
            Deadline = Timestamp.FromDateTimeOffset(sla.Deadline),
            Breached = sla.Breached,
            Met = sla.Met,
        };
        if (sla.MetAt is { } met) result.MetAt = Timestamp.FromDateTimeOffset(met);
        return result;
    }

    public static LeadStage ToProto(LifecycleStage stage) => stage switch
    {
        LifecycleStage.Lead => LeadStage.Lead,
        LifecycleStage.Mql => LeadStage.Mql,
        LifecycleStage.Sal => LeadStage.Sal,
        LifecycleStage.Sql => LeadStage.Sql,
        LifecycleStage.Converted => LeadStage.Converted,
        LifecycleStage.Recycled => LeadStage.Recycled,
        LifecycleStage.Disqualified => LeadStage.Disqualified,
        _ => LeadStage.Unspecified,
    };

    public static MqlTier ToProto(Domain.MqlTier tier) => tier switch
    {
        Domain.MqlTier.None => MqlTier.None,
        Domain.MqlTier.MqlLight => MqlTier.MqlLight,
        Domain.MqlTier.Mql => MqlTier.Mql,
        Domain.MqlTier.HotMql => MqlTier.HotMql,
        _ => MqlTier.Unspecified,
    };
}
