using System.Text.Json;
using Grpc.Core;
using Microsoft.AspNetCore.Mvc;

namespace ScoringPlatform.Api.Rest;

/// <summary>
/// JSON transcoding answers errors with a google.rpc.Status body; REST clients get RFC 7807 problem JSON
/// instead (same HTTP status, except FAILED_PRECONDITION as 409; the gRPC status name kept as an extension). gRPC calls are not touched.
/// </summary>
public sealed class GrpcErrorsAsProblemDetails(RequestDelegate next)
{
    public async Task InvokeAsync(HttpContext context)
    {
        if (!context.Request.Path.StartsWithSegments("/v1") ||
            context.Request.ContentType?.StartsWith("application/grpc", StringComparison.Ordinal) == true)
        {
            await next(context);
            return;
        }

        var original = context.Response.Body;
        await using var buffer = new MemoryStream();
        context.Response.Body = buffer;
        try
        {
            await next(context);
        }
        finally
        {
            context.Response.Body = original;
        }

        if (context.Response.StatusCode < 400)
        {
            buffer.Position = 0;
            await buffer.CopyToAsync(original, context.RequestAborted);
            return;
        }

        var (code, message) = ReadStatus(buffer.ToArray());
        // Transcoding maps FAILED_PRECONDITION to 400; for REST clients it is a conflict with the resource's
        // current state (an illegal stage transition, a stale expected stage, a reused idempotency key).
        if (code == StatusCode.FailedPrecondition) context.Response.StatusCode = StatusCodes.Status409Conflict;
        var problem = new ProblemDetails
        {
            Status = context.Response.StatusCode,
            Title = TitleFor(context.Response.StatusCode),
            Detail = message,
            Instance = context.Request.Path,
            Type = $"https://httpstatuses.io/{context.Response.StatusCode}",
        };
        if (code is { } c) problem.Extensions["grpcStatus"] = c.ToString();
        problem.Extensions["traceId"] = System.Diagnostics.Activity.Current?.TraceId.ToString();

        context.Response.ContentLength = null;
        await context.Response.WriteAsJsonAsync(problem, (JsonSerializerOptions?)null, "application/problem+json", context.RequestAborted);
    }

    private static (StatusCode? Code, string? Message) ReadStatus(byte[] body)
    {
        try
        {
            using var doc = JsonDocument.Parse(body);
            var root = doc.RootElement;
            StatusCode? code = root.TryGetProperty("code", out var c) && c.TryGetInt32(out var n) ? (StatusCode)n : null;
            var message = root.TryGetProperty("message", out var m) ? m.GetString() : null;
            return (code, message);
        }
        catch (JsonException)
        {
            return (null, body.Length == 0 ? null : System.Text.Encoding.UTF8.GetString(body));
        }
    }

    private static string TitleFor(int status) => status switch
    {
        400 => "Invalid request",
        404 => "Not found",
        409 => "Conflict",
        503 => "Service unavailable",
        _ => "Request failed",
    };
}
