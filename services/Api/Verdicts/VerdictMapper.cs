using Google.Protobuf.WellKnownTypes;
using ScoringPlatform.Api.V1;
using ScoringPlatform.Leads.Scoring;
using Domain = ScoringPlatform.Scoring;

namespace ScoringPlatform.Api.Verdicts;

public static class VerdictMapper
{
    public static V1.Verdict ToProto(string leadId, DateTimeOffset asOf, LeadScoreView view, Domain.Verdict verdict)
    {
        var result = new V1.Verdict
        {
            LeadId = leadId,
            AsOf = Timestamp.FromDateTimeOffset(asOf),
            IsMql = verdict.IsMql,
            Tier = ToProto(verdict.Tier),
            TotalScore = verdict.TotalScore,
            FitScore = verdict.FitScore,
            EngagementScore = verdict.EngagementScore,
            MatrixCell = verdict.MatrixCell,
            ModelId = verdict.ModelId,
            ModelVersion = verdict.ModelVersion,
            EventCount = view.EventCount,
            QualifiedBy = verdict.QualifiedBy ?? "",
            TierReason = verdict.TierReason ?? "",
        };
        if (view.LastEventAt is { } last) result.LastEventAt = Timestamp.FromDateTimeOffset(last);
        if (verdict.DropsBelowExitAt is { } drops) result.DropsBelowExitAt = Timestamp.FromDateTimeOffset(drops);
        if (verdict.Disqualification is { } d)
        {
            result.Disqualification = new Disqualification { RuleId = d.RuleId, Reason = d.Reason };
        }

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

    public static MqlTier ToProto(Domain.MqlTier tier) => tier switch
    {
        Domain.MqlTier.None => MqlTier.None,
        Domain.MqlTier.MqlLight => MqlTier.MqlLight,
        Domain.MqlTier.Mql => MqlTier.Mql,
        Domain.MqlTier.HotMql => MqlTier.HotMql,
        _ => MqlTier.Unspecified,
    };
}
