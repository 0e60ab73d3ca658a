using System.Text.Json;
using Grpc.Core;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Mvc;

namespace ScoringPlatform.Api.Rest;

/// <summary>
/// JSON transcoding answers errors with a google.rpc.Status body; REST clients get RFC 7807 problem JSON
/// instead (same HTTP status, except FAILED_PRECONDITION as 409; the gRPC status name kept as an extension). gRPC calls are not touched;
/// responses that already are problem JSON pass through.
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

        // A body over Kestrel's MaxRequestBodySize: transcoding turns the read failure into INVALID_ARGUMENT (400);
        // REST clients get 413. Known lengths are refused before anything reads; chunked ones when the read fails.
        var limit = context.Features.Get<IHttpMaxRequestBodySizeFeature>()?.MaxRequestBodySize;
        if (limit is { } max && context.Request.ContentLength > max)
        {
            await WriteTooLargeAsync(context, max);
            return;
        }

        var body = new BodySizeObserver(context.Request.Body);
        context.Request.Body = body;
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

        if (body.TooLarge && limit is { } exceeded)
        {
            context.Response.Clear();
            await WriteTooLargeAsync(context, exceeded);
            return;
        }

        // Below 400, or already problem JSON (auth, rate limit and size refusals write their own): passed through.
        if (context.Response.StatusCode < 400 ||
            context.Response.ContentType?.StartsWith("application/problem+json", StringComparison.Ordinal) == true)
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

    private static Task WriteTooLargeAsync(HttpContext context, long max) =>
        Results.Problem(
            detail: $"the request body is larger than {max} bytes (RequestLimits:MaxRequestBodyBytes)",
            instance: context.Request.Path,
            statusCode: StatusCodes.Status413PayloadTooLarge,
            title: "Payload too large",
            type: "https://httpstatuses.io/413",
            extensions: new Dictionary<string, object?> { ["traceId"] = System.Diagnostics.Activity.Current?.TraceId.ToString() })
            .ExecuteAsync(context);

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

/// <summary>Passes reads through and notes when Kestrel refused one because the body exceeded its size limit.</summary>
internal sealed class BodySizeObserver(Stream inner) : Stream
{
    public bool TooLarge { get; private set; }

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override int Read(byte[] buffer, int offset, int count) => Observe(() => inner.Read(buffer, offset, count));

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        try
        {
            return await inner.ReadAsync(buffer, cancellationToken);
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            TooLarge = true;
            throw;
        }
    }

    private int Observe(Func<int> read)
    {
        try
        {
            return read();
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            TooLarge = true;
            throw;
        }
    }

    public override void Flush() => throw new NotSupportedException();
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
