using Microsoft.AspNetCore.Authorization;
using System.Globalization;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using ScoringPlatform.Api.V1;
using ScoringPlatform.Api.Verdicts;
using ScoringPlatform.Leads;
using ScoringPlatform.Scoring.Lifecycle;
using ScoringPlatform.Api.Auth;

namespace ScoringPlatform.Api.Feedback;

/// <summary>gRPC (and REST) sales feedback: validates the request, then <see cref="SalesFeedbackRecorder"/> decides and stores it.</summary>
[Authorize(Policy = ApiScopes.FeedbackWrite)]
public sealed partial class SalesFeedbackService(SalesFeedbackRecorder recorder, TimeProvider clock, ILogger<SalesFeedbackService> logger)
    : V1.SalesFeedback.SalesFeedbackBase
{
    public const int MaxKeyLength = 200;
    public const int MaxActorLength = 200;
    public const int MaxReasonLength = 2000;
    public static readonly TimeSpan FutureTolerance = TimeSpan.FromMinutes(5);

    public override async Task<SalesFeedbackOutcome> RecordSalesFeedback(RecordSalesFeedbackRequest request, ServerCallContext context)
    {
        var now = clock.GetUtcNow();
        var feedback = Validate(request, now);
        var result = await recorder.RecordAsync(request.LeadId, feedback, request.OccurredAt is not null, context.CancellationToken);
        switch (result)
        {
            case FeedbackResult.Recorded r:
                Recorded(request.LeadId, r.Event.Action, r.Event.Actor, r.Replay);
                break;
            case FeedbackResult.Refused r:
                Refused(request.LeadId, feedback.Action, feedback.Actor, r.Reason);
                break;
        }

        return result switch
        {
            FeedbackResult.Recorded r => ToOutcome(request.LeadId, r),
            FeedbackResult.UnknownLead => throw new RpcException(new Status(StatusCode.NotFound, $"lead '{request.LeadId}' is not known (no events stored)")),
            FeedbackResult.Refused r => throw new RpcException(new Status(StatusCode.FailedPrecondition, r.Reason)),
            _ => throw new InvalidOperationException(result.ToString()),
        };
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Sales feedback {Action} on {LeadId} by {Actor} recorded (replay: {Replay})")]
    private partial void Recorded(string leadId, SalesActionKind action, string actor, bool replay);

    [LoggerMessage(Level = LogLevel.Information, Message = "Sales feedback {Action} on {LeadId} by {Actor} refused: {Reason}")]
    private partial void Refused(string leadId, SalesActionKind action, string actor, string reason);

    private static SalesFeedbackRecorded Validate(RecordSalesFeedbackRequest request, DateTimeOffset now)
    {
        static RpcException Invalid(string message) => new(new Status(StatusCode.InvalidArgument, message));

        if (LeadIds.Problem(request.LeadId) is { } problem) throw Invalid(problem);
        var action = FromProto(request.Action) ?? throw Invalid("action is required (ACCEPT, REJECT, RECYCLE, QUALIFY, CONVERT or DISQUALIFY)");
        if (string.IsNullOrWhiteSpace(request.Actor)) throw Invalid("actor is required");
        if (request.Actor.Length > MaxActorLength) throw Invalid($"actor is longer than {MaxActorLength} characters");
        if (string.IsNullOrEmpty(request.IdempotencyKey) || request.IdempotencyKey.Length > MaxKeyLength)
            throw Invalid($"idempotency_key is required (1-{MaxKeyLength} characters)");
        if (request.Reason.Length > MaxReasonLength) throw Invalid($"reason is longer than {MaxReasonLength} characters");

        var at = request.OccurredAt?.ToDateTimeOffset() ?? now;
        if (at > now + FutureTolerance) throw Invalid($"occurred_at {at:O} is in the future (now is {now:O})");

        decimal? amount = null;
        if (!string.IsNullOrWhiteSpace(request.Amount))
        {
            if (action != SalesActionKind.Convert) throw Invalid("amount applies to CONVERT only");
            if (!decimal.TryParse(request.Amount, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var parsed))
                throw Invalid($"amount '{request.Amount}' is not a non-negative decimal number (e.g. \"12500.50\")");
            amount = parsed;
        }

        LifecycleStage? expected = request.ExpectedStage == LeadStage.Unspecified ? null : FromProto(request.ExpectedStage);
        return new SalesFeedbackRecorded(request.IdempotencyKey, action, request.Actor.Trim(), at.ToUniversalTime(),
            string.IsNullOrWhiteSpace(request.Reason) ? null : request.Reason.Trim(), expected, amount, now);
    }

    private static SalesFeedbackOutcome ToOutcome(string leadId, FeedbackResult.Recorded r) => new()
    {
        LeadId = leadId,
        Action = ToProto(r.Event.Action),
        Stage = VerdictMapper.ToProto(SalesDecisions.Outcome(r.Event.Action).To),
        TransitionKind = SalesDecisions.Outcome(r.Event.Action).Kind.ToString(),
        EventId = r.EventId.ToString(),
        StreamVersion = r.Version,
        OccurredAt = Timestamp.FromDateTimeOffset(r.Event.At),
        RecordedAt = Timestamp.FromDateTimeOffset(r.Event.RecordedAt),
        Replay = r.Replay,
    };

    public static SalesActionKind? FromProto(SalesActionType action) => action switch
    {
        SalesActionType.Accept => SalesActionKind.Accept,
        SalesActionType.Reject => SalesActionKind.Reject,
        SalesActionType.Recycle => SalesActionKind.Recycle,
        SalesActionType.Qualify => SalesActionKind.Qualify,
        SalesActionType.Convert => SalesActionKind.Convert,
        SalesActionType.Disqualify => SalesActionKind.Disqualify,
        _ => null,
    };

    public static SalesActionType ToProto(SalesActionKind kind) => kind switch
    {
        SalesActionKind.Accept => SalesActionType.Accept,
        SalesActionKind.Reject => SalesActionType.Reject,
        SalesActionKind.Recycle => SalesActionType.Recycle,
        SalesActionKind.Qualify => SalesActionType.Qualify,
        SalesActionKind.Convert => SalesActionType.Convert,
        SalesActionKind.Disqualify => SalesActionType.Disqualify,
        _ => SalesActionType.Unspecified,
    };

    public static LifecycleStage? FromProto(LeadStage stage) => stage switch
    {
        LeadStage.Lead => LifecycleStage.Lead,
        LeadStage.Mql => LifecycleStage.Mql,
        LeadStage.Sal => LifecycleStage.Sal,
        LeadStage.Sql => LifecycleStage.Sql,
        LeadStage.Converted => LifecycleStage.Converted,
        LeadStage.Recycled => LifecycleStage.Recycled,
        LeadStage.Disqualified => LifecycleStage.Disqualified,
        _ => null,
    };
}
