using Grpc.Core;
using ScoringPlatform.Leads.ReadModel;
using ScoringPlatform.Scoring;
using ScoringPlatform.Scoring.Lifecycle;

namespace ScoringPlatform.Api.Verdicts;

/// <summary>The verdict at an instant from a score view: the one evaluation both the memory and the database path run.</summary>
public static class VerdictEvaluation
{
    public static V1.Verdict Evaluate(string leadId, DateTimeOffset asOf, LeadScoreView view, ScoringModel model)
    {
        try
        {
            var status = LeadTimeline.StatusAt(view.Lifecycle, asOf, model);
            var verdict = Scorer.Evaluate(view.State, model, asOf, status.Stage == LifecycleStage.Mql, status.Tier);
            return VerdictMapper.ToProto(leadId, asOf, view, verdict, status);
        }
        catch (AsOfOutOfRangeException ex)
        {
            throw new RpcException(new Status(StatusCode.OutOfRange,
                $"as_of {ex.AsOf:O} is before {ex.EarliestExactAsOf:O}, the earliest instant this lead's kept history scores exactly"));
        }
        catch (ModelMismatchException ex)
        {
            throw new RpcException(new Status(StatusCode.FailedPrecondition,
                $"the lead's score was built by another model version; rebuild the LeadScore projection ({ex.Message})"));
        }
    }
}
