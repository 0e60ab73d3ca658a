using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace ScoringPlatform.ServiceDefaults;

/// <summary>
/// Host wiring every service calls once: logging, telemetry, the liveness check and the health endpoints.
/// Readiness checks come from the dependencies a service uses (e.g. AddPostgresReadiness, AddKafka).
/// </summary>
public static class ServiceDefaultsExtensions
{
    public const string LiveTag = "live";

    public static TBuilder AddServiceDefaults<TBuilder>(this TBuilder builder, string serviceName)
        where TBuilder : IHostApplicationBuilder
    {
        builder.Logging.AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.TimestampFormat = "HH:mm:ss.fff ";
            o.UseUtcTimestamp = true;
        });

        builder.AddTelemetry(serviceName);

        // Liveness is "the process answers": a dependency outage must not get the process restarted.
        builder.Services.AddHealthChecks()
            .AddCheck("self", () => HealthCheckResult.Healthy(), [LiveTag]);

        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(20));
        return builder;
    }

    private static void AddTelemetry(this IHostApplicationBuilder builder, string serviceName)
    {
        var otel = builder.Services.AddOpenTelemetry()
            .ConfigureResource(r => r.AddService(serviceName, serviceNamespace: "scoring-platform"))
            .WithTracing(tracing => tracing
                .AddSource(PlatformTelemetry.ActivitySourceName, "Marten")
                .AddAspNetCoreInstrumentation(o => o.Filter = ctx => !ctx.Request.Path.StartsWithSegments("/health"))
                .AddHttpClientInstrumentation()
                .AddNpgsql())
            .WithMetrics(metrics => metrics
                .AddMeter(PlatformTelemetry.MeterName, "Marten", "Npgsql")
                .AddAspNetCoreInstrumentation()
                .AddHttpClientInstrumentation()
                .AddRuntimeInstrumentation());

        // The OTLP exporter is opt-in: it is enabled by the standard OTEL_EXPORTER_OTLP_ENDPOINT variable.
        if (!string.IsNullOrWhiteSpace(builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]))
        {
            otel.UseOtlpExporter();
        }
    }

    /// <summary>
    /// /health/live answers while the process runs; /health/ready answers 200 only when every check the service
    /// registered for its own dependencies is Healthy (Degraded means the service is not doing its job, e.g.
    /// Ingestion cannot store, so it is 503 too).
    /// </summary>
    /// <param name="app">The application.</param>
    /// <param name="anonymous">
    /// Probes carry no credentials, so in a service that authenticates its callers the health endpoints stay open
    /// unless this is false (then they take the service's default authorization policy like any other endpoint).
    /// </param>
    public static WebApplication MapDefaultEndpoints(this WebApplication app, bool anonymous = true)
    {
        var live = app.MapHealthChecks("/health/live", new HealthCheckOptions { Predicate = r => r.Tags.Contains(LiveTag) });
        var ready = app.MapHealthChecks("/health/ready", new HealthCheckOptions
        {
            ResponseWriter = WriteHealthJson,
            ResultStatusCodes =
            {
                [HealthStatus.Healthy] = StatusCodes.Status200OK,
                [HealthStatus.Degraded] = StatusCodes.Status503ServiceUnavailable,
                [HealthStatus.Unhealthy] = StatusCodes.Status503ServiceUnavailable,
            },
        });
        foreach (var endpoint in new[] { live, ready })
        {
            if (anonymous) endpoint.AllowAnonymous();
            else endpoint.RequireAuthorization();
        }

        return app;
    }

    private static Task WriteHealthJson(HttpContext context, HealthReport report)
    {
        context.Response.ContentType = "application/json";
        var body = new
        {
            status = report.Status.ToString(),
            checks = report.Entries.ToDictionary(
                e => e.Key,
                e => new { status = e.Value.Status.ToString(), description = e.Value.Description, error = e.Value.Exception?.Message }),
        };
        return context.Response.WriteAsJsonAsync(body);
    }
}
