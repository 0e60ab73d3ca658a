using Microsoft.AspNetCore.Authorization;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Marten;
using ScoringPlatform.Api.V1;
using ScoringPlatform.Leads;
using ScoringPlatform.Leads.ReadModel;
using ScoringPlatform.Scoring;
using ScoringPlatform.Scoring.Lifecycle;
using ScoringPlatform.Api.Auth;

namespace ScoringPlatform.Api.Verdicts;

/// <summary>gRPC (and, through transcoding, REST) verdicts computed from the lead's score view at any instant.</summary>
[Authorize(Policy = ApiScopes.VerdictsRead)]
public sealed class LeadScoringService(IQuerySession session, ScoringModelProvider models, TimeProvider clock)
    : LeadScoring.LeadScoringBase
{
    public override async Task<V1.Verdict> GetVerdict(GetVerdictRequest request, ServerCallContext context)
    {
        if (LeadIds.Problem(request.LeadId) is { } problem)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, problem));
        }

        var asOf = request.AsOf?.ToDateTimeOffset() ?? clock.GetUtcNow();
        var view = await session.LoadAsync<LeadScoreView>(request.LeadId, context.CancellationToken)
            ?? throw new RpcException(new Status(StatusCode.NotFound, $"lead '{request.LeadId}' is not known (no events scored yet)"));

        try
        {
            var model = models.Current;
            var status = LeadTimeline.StatusAt(view.Lifecycle, asOf, model);
            var verdict = Scorer.Evaluate(view.State, model, asOf, status.Stage == LifecycleStage.Mql, status.Tier);
            return VerdictMapper.ToProto(request.LeadId, asOf, view, verdict, status);
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
