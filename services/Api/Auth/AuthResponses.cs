using ScoringPlatform.ServiceDefaults;

namespace ScoringPlatform.Api.Auth;

/// <summary>
/// A refusal in the caller's protocol: gRPC gets a trailers-only UNAUTHENTICATED (401) or PERMISSION_DENIED (403)
/// with the message; REST gets RFC 7807 problem JSON with the same status. Status headers set before (WWW-Authenticate)
/// are kept.
/// </summary>
internal static class AuthResponses
{
    public static async Task WriteAsync(HttpContext context, int status, string title, string detail, IDictionary<string, object?>? extensions = null)
    {
        if (GrpcTrailersOnly.IsGrpcRequest(context.Request))
        {
            await GrpcTrailersOnly.WriteAsync(context,
                status == StatusCodes.Status403Forbidden ? GrpcTrailersOnly.PermissionDenied : GrpcTrailersOnly.Unauthenticated, detail);
            return;
        }

        var extra = new Dictionary<string, object?>(extensions ?? new Dictionary<string, object?>())
        {
            ["traceId"] = System.Diagnostics.Activity.Current?.TraceId.ToString(),
        };
        await Results.Problem(detail: detail, instance: context.Request.Path, statusCode: status, title: title,
            type: $"https://httpstatuses.io/{status}", extensions: extra).ExecuteAsync(context);
    }
}
