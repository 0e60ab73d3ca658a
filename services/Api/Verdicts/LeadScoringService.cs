using Microsoft.AspNetCore.Authorization;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Marten;
using Microsoft.Extensions.Options;
using ScoringPlatform.Api.V1;
using ScoringPlatform.Leads;
using ScoringPlatform.Leads.EventStore;
using ScoringPlatform.Leads.Identity;
using ScoringPlatform.Leads.ReadModel;
using ScoringPlatform.Scoring;
using ScoringPlatform.Scoring.Lifecycle;
using ScoringPlatform.Api.Auth;

namespace ScoringPlatform.Api.Verdicts;

/// <summary>gRPC (and, through transcoding, REST) verdicts computed from the lead's score view at any instant (from memory when it holds the lead).</summary>
/// <remarks>An id linked into another lead (anonymous stream key, merged lead id) answers the survivor's verdict, naming the id asked for.</remarks>
[Authorize(Policy = ApiScopes.VerdictsRead)]
public sealed class LeadScoringService(
    IDocumentStore store, IOptions<EventStoreOptions> options, ScoringModelProvider models, TimeProvider clock, LeadVerdictStore? memory = null)
    : LeadScoring.LeadScoringBase
{
    public override async Task<V1.Verdict> GetVerdict(GetVerdictRequest request, ServerCallContext context)
    {
        if (LeadIds.Problem(request.LeadId) is { } problem)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, problem));
        }

        var asOf = request.AsOf?.ToDateTimeOffset() ?? clock.GetUtcNow();
        // Most verdicts come from memory (LeadVerdictStore, kept from the score views' change feed); the rest read the
        // view: ids memory does not hold (unknown, merged, linked), as_of before the lead's clock, before the first load.
        if (memory?.TryAnswer(request.LeadId, asOf) is { } fromMemory) return fromMemory;
        // A session is opened only here: the memory path needs none (a scoped session per request costs allocations).
        await using var session = store.QuerySession();
        var view = await session.LoadAsync<LeadScoreView>(request.LeadId, context.CancellationToken);
        string? survivor = null;
        // Most ids are leads of their own: the alias table is read only for an id without a view (linked before its first
        // event) or one its view says was merged (the table, re-pointed on every merge, names the final survivor).
        if (view is null || view.MergedInto is not null)
        {
            survivor = await IdentityAliases.SurvivorOfAsync(session, options.Value.Schema, request.LeadId, context.CancellationToken);
            if (survivor is not null) view = await session.LoadAsync<LeadScoreView>(survivor, context.CancellationToken);
        }

        var leadId = survivor ?? request.LeadId;
        view = view
            ?? throw new RpcException(new Status(StatusCode.NotFound, survivor is null
                ? $"lead '{request.LeadId}' is not known (no events scored yet)"
                : $"'{request.LeadId}' was linked into lead '{survivor}', which has no events scored yet"));

        var result = VerdictEvaluation.Evaluate(leadId, asOf, view, models.Current);
        if (survivor is not null) result.RequestedId = request.LeadId;
        return result;
    }
}
