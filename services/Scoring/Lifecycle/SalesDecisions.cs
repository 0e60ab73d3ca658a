namespace ScoringPlatform.Scoring.Lifecycle;

/// <summary>An accepted sales action: the transition kind, the stage it leads to, and why.</summary>
public sealed record SalesDecision(bool Accepted, TransitionKind Kind, LifecycleStage To, string Reason)
{
    internal static SalesDecision Refused(string why) => new(false, default, default, why);
}

/// <summary>
/// The legality rules of sales feedback, as a pure function of the current lifecycle status, the action and its
/// instant. Legal moves (anything else is refused, naming the current stage):
/// <list type="bullet">
/// <item>accept: MQL (tier MQL or Hot MQL; MQL-Light is nurture, "no sales touch") -> SAL</item>
/// <item>reject (reason): MQL or SAL -> Recycled</item>
/// <item>recycle (reason): MQL, SAL or SQL -> Recycled</item>
/// <item>qualify: SAL -> SQL</item>
/// <item>convert (amount >= 0, optional): SAL or SQL -> Converted (a lead never accepted cannot be converted)</item>
/// <item>disqualify (reason): any stage but Converted and Disqualified -> Disqualified</item>
/// </list>
/// An action whose <see cref="SalesAction.ExpectedStage"/> differs from the current stage is refused (stale view).
/// Converted is final.
/// </summary>
public static class SalesDecisions
{
    /// <summary>Where an accepted action of a kind leads: its transition and stage (the same for every accepted one).</summary>
    public static (TransitionKind Kind, LifecycleStage To) Outcome(SalesActionKind action) => action switch
    {
        SalesActionKind.Accept => (TransitionKind.SalesAccepted, LifecycleStage.Sal),
        SalesActionKind.Reject or SalesActionKind.Recycle => (TransitionKind.Recycled, LifecycleStage.Recycled),
        SalesActionKind.Qualify => (TransitionKind.SalesQualified, LifecycleStage.Sql),
        SalesActionKind.Convert => (TransitionKind.Converted, LifecycleStage.Converted),
        SalesActionKind.Disqualify => (TransitionKind.Disqualified, LifecycleStage.Disqualified),
        _ => throw new ArgumentOutOfRangeException(nameof(action), action, "unknown sales action"),
    };

    private static SalesDecision Accepted(SalesActionKind action, string reason)
    {
        var (kind, to) = Outcome(action);
        return new SalesDecision(true, kind, to, reason);
    }

    public static SalesDecision Decide(LifecycleStatus current, SalesAction action, DateTimeOffset at)
    {
        var stage = current.Stage;
        if (action.ExpectedStage is { } expected && expected != stage)
            return SalesDecision.Refused($"expected stage {expected} but the lead is {Describe(current)} (as of {at:O}); reload and decide again");
        if (stage == LifecycleStage.Converted)
            return SalesDecision.Refused($"the lead is Converted (a customer); no further sales action applies");
        if (string.IsNullOrWhiteSpace(action.Actor))
            return SalesDecision.Refused("a sales action names its actor");

        var reason = action.Reason?.Trim();
        bool NeedsReason() => string.IsNullOrEmpty(reason);
        string Stated(string what) => $"{what} by {action.Actor}: {reason}";

        return action.Kind switch
        {
            SalesActionKind.Accept when stage != LifecycleStage.Mql =>
                SalesDecision.Refused($"only an MQL can be accepted; the lead is {Describe(current)}"),
            SalesActionKind.Accept when current.Tier == MqlTier.MqlLight =>
                SalesDecision.Refused("the lead is an MQL-Light (engagement without fit: nurture, no sales touch); it cannot be accepted"),
            SalesActionKind.Accept => Accepted(action.Kind,
                $"accepted by {action.Actor}" + (NeedsReason() ? "" : $": {reason}")),

            SalesActionKind.Reject when stage is not (LifecycleStage.Mql or LifecycleStage.Sal) =>
                SalesDecision.Refused($"only an MQL or a sales-accepted lead can be rejected; the lead is {Describe(current)}"),
            SalesActionKind.Reject when NeedsReason() => SalesDecision.Refused("a rejection needs a reason"),
            SalesActionKind.Reject => Accepted(action.Kind, Stated("rejected")),

            SalesActionKind.Recycle when stage is not (LifecycleStage.Mql or LifecycleStage.Sal or LifecycleStage.Sql) =>
                SalesDecision.Refused($"only an MQL, SAL or SQL can be recycled; the lead is {Describe(current)}"),
            SalesActionKind.Recycle when NeedsReason() => SalesDecision.Refused("recycling needs a reason"),
            SalesActionKind.Recycle => Accepted(action.Kind, Stated("recycled")),

            SalesActionKind.Qualify when stage != LifecycleStage.Sal =>
                SalesDecision.Refused($"only a sales-accepted lead (SAL) can be qualified; the lead is {Describe(current)}"),
            SalesActionKind.Qualify => Accepted(action.Kind,
                $"qualified by {action.Actor}" + (NeedsReason() ? "" : $": {reason}")),

            SalesActionKind.Convert when stage is not (LifecycleStage.Sal or LifecycleStage.Sql) =>
                SalesDecision.Refused($"only a lead sales accepted (SAL or SQL) can be converted; the lead is {Describe(current)}"),
            SalesActionKind.Convert when action.Amount is < 0 => SalesDecision.Refused($"amount {action.Amount} is negative"),
            SalesActionKind.Convert => Accepted(action.Kind,
                $"won by {action.Actor}" + (action.Amount is { } a ? $", amount {a}" : "") + (NeedsReason() ? "" : $": {reason}")),

            SalesActionKind.Disqualify when stage == LifecycleStage.Disqualified =>
                SalesDecision.Refused($"the lead is already Disqualified ({current.Reason})"),
            SalesActionKind.Disqualify when NeedsReason() => SalesDecision.Refused("a disqualification needs a reason"),
            SalesActionKind.Disqualify => Accepted(action.Kind, Stated("disqualified")),

            _ => SalesDecision.Refused($"unknown sales action {action.Kind}"),
        };
    }

    private static string Describe(LifecycleStatus s) => s.Stage == LifecycleStage.Mql ? $"Mql ({s.Tier})" : s.Stage.ToString();
}
