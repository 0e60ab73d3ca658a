using Microsoft.AspNetCore.Http.Features;
using ScoringPlatform.ServiceDefaults;

namespace ScoringPlatform.Api;

/// <summary>
/// The <c>RequestLimits</c> section: the largest request body Kestrel reads (REST; over it 413 problem JSON) and the
/// largest gRPC message the server accepts (over it RESOURCE_EXHAUSTED). Every request of this API is a few hundred
/// bytes, so 1 MiB leaves room and still stops a client from streaming megabytes into a JSON parser.
/// </summary>
public sealed class RequestLimits
{
    public const string Section = "RequestLimits";
    public const int OneMebibyte = 1024 * 1024;

    public long MaxRequestBodyBytes { get; set; } = OneMebibyte;
    public int MaxGrpcMessageBytes { get; set; } = OneMebibyte;

    public static RequestLimits From(IConfiguration configuration)
    {
        var limits = configuration.GetSection(Section).Get<RequestLimits>() ?? new RequestLimits();
        if (limits.MaxRequestBodyBytes < 1024 || limits.MaxGrpcMessageBytes < 1024)
        {
            throw new InvalidOperationException($"{Section}: MaxRequestBodyBytes and MaxGrpcMessageBytes must be at least 1024 bytes");
        }

        return limits;
    }

    /// <summary>First in the pipeline: non-gRPC requests get <see cref="MaxRequestBodyBytes"/> before anything reads.</summary>
    public static IApplicationBuilder UseRequestBodyLimit(IApplicationBuilder app, RequestLimits limits) => app.Use((context, next) =>
    {
        if (!GrpcTrailersOnly.IsGrpcRequest(context.Request) && context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } body)
        {
            body.MaxRequestBodySize = limits.MaxRequestBodyBytes;
        }

        return next(context);
    });
}
