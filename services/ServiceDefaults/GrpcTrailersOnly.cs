using System.Globalization;
using System.Text;
using Microsoft.AspNetCore.Http;

namespace ScoringPlatform.ServiceDefaults;

/// <summary>
/// Answers a gRPC call that middleware refuses before it reaches the service (authentication, rate limiting) the
/// way a gRPC server would: HTTP 200, <c>application/grpc</c>, no message, <c>grpc-status</c>/<c>grpc-message</c> in
/// the only header frame ("trailers-only"). A plain HTTP 401/429 would reach gRPC clients as a bare HTTP status
/// (429 even maps to UNAVAILABLE, which clients retry at once) and lose the message.
/// </summary>
public static class GrpcTrailersOnly
{
    public const int PermissionDenied = 7;
    public const int ResourceExhausted = 8;
    public const int Unauthenticated = 16;

    public static bool IsGrpcRequest(HttpRequest request) =>
        request.ContentType?.StartsWith("application/grpc", StringComparison.OrdinalIgnoreCase) == true;

    public static Task WriteAsync(HttpContext context, int grpcStatus, string message)
    {
        var response = context.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = "application/grpc";
        response.Headers["grpc-status"] = grpcStatus.ToString(CultureInfo.InvariantCulture);
        response.Headers["grpc-message"] = PercentEncode(message);
        return response.CompleteAsync();
    }

    /// <summary>grpc-message is percent-encoded UTF-8: every byte outside printable ASCII, and '%' itself.</summary>
    public static string PercentEncode(string message)
    {
        var bytes = Encoding.UTF8.GetBytes(message);
        var text = new StringBuilder(bytes.Length);
        foreach (var b in bytes)
        {
            if (b is >= 0x20 and <= 0x7E && b != (byte)'%') text.Append((char)b);
            else text.Append('%').Append(b.ToString("X2", CultureInfo.InvariantCulture));
        }

        return text.ToString();
    }
}
