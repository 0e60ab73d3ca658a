using Microsoft.Extensions.Options;
using Microsoft.OpenApi;
using ScoringPlatform.Api.Auth;
using ScoringPlatform.Api.Feedback;
using ScoringPlatform.Api.Queries;
using ScoringPlatform.Api.Rest;
using ScoringPlatform.Api.Verdicts;
using ScoringPlatform.Leads.EventStore;
using ScoringPlatform.ServiceDefaults;

namespace ScoringPlatform.Api;

public static class ApiExtensions
{
    public static WebApplicationBuilder AddApi(this WebApplicationBuilder builder)
    {
        // The system clock, or Clock:File (a test hook: end-to-end tests move time for verdicts and feedback defaults).
        builder.Services.AddPlatformClock(builder.Configuration);
        // The Api reads the event store only: PostgreSQL is its one readiness dependency (no Kafka settings).
        builder.AddLeadEventStore();
        builder.Services.AddHealthChecks().AddPostgresReadiness();
        builder.Services.AddSingleton<SalesFeedbackRecorder>();
        // Verdicts from memory, kept from the score views' change feed (Verdicts/VerdictFeed); Api:VerdictCache:Enabled=false
        // reads every verdict from the database instead. Not ready until the first full load completed.
        var verdictCache = builder.Configuration.GetSection(VerdictCacheOptions.Section);
        builder.Services.Configure<VerdictCacheOptions>(verdictCache);
        if (verdictCache.GetValue(nameof(VerdictCacheOptions.Enabled), true))
        {
            builder.Services.AddSingleton<LeadVerdictStore>();
            builder.Services.AddHostedService<VerdictFeed>();
            builder.Services.AddHealthChecks().AddCheck<VerdictCacheHealthCheck>(VerdictCacheHealthCheck.Name);
        }

        // API keys, scopes per service and a rate limit per key (Auth/, ServiceDefaults/RateLimiting).
        builder.AddApiAuth();
        // Every request of this API is small: bodies and gRPC messages over the limits are refused before parsing.
        var limits = RequestLimits.From(builder.Configuration);
        builder.Services.AddSingleton(limits);
        builder.WebHost.ConfigureKestrel(k => k.Limits.MaxRequestBodySize = null);
        builder.Services.AddGrpc(o =>
        {
            o.EnableDetailedErrors = builder.Environment.IsDevelopment();
            o.MaxReceiveMessageSize = limits.MaxGrpcMessageBytes;
        }).AddJsonTranscoding();
        builder.Services.AddGrpcReflection();
        // grpc.health.v1 answers from the same checks as /health/ready, run on each Check call.
        builder.Services.AddGrpcHealthChecks();
        builder.Services.AddProblemDetails();
        builder.Services.AddEndpointsApiExplorer();
        builder.Services.AddSwaggerGen(o =>
        {
            o.SwaggerDoc("v1", new() { Title = "ScoringPlatform API", Version = "v1", Description = "REST mirror of protos/scoring.proto (gRPC JSON transcoding)." });
            o.DocumentFilter<ProtoHttpRulesDocumentFilter>();
            // The UI's Authorize button: the API key as a bearer token on every operation.
            o.AddSecurityDefinition("ApiKey", new OpenApiSecurityScheme
            {
                Type = SecuritySchemeType.Http,
                Scheme = "bearer",
                Description = "An API key (Auth:ApiKeys): Authorization: Bearer <key>. Scopes: verdicts:read (LeadScoring), leads:read (LeadQueries), feedback:write (SalesFeedback).",
            });
            o.AddSecurityRequirement(document => new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference("ApiKey", document)] = [] });
        });
        return builder;
    }

    /// <summary>The services, the auth pipeline, and the endpoints that stay open without a key (each configurable).</summary>
    public static WebApplication MapApi(this WebApplication app)
    {
        var auth = app.Services.GetRequiredService<IOptions<ApiAuthOptions>>().Value;
        RequestLimits.UseRequestBodyLimit(app, app.Services.GetRequiredService<RequestLimits>());
        app.UseMiddleware<GrpcErrorsAsProblemDetails>();
        // The UI is static files (no data) and always served; the document it loads follows Auth:AnonymousSwagger.
        app.UseSwaggerUI(o => o.SwaggerEndpoint("/swagger/v1/swagger.json", "ScoringPlatform v1"));
        app.UseApiAuth();

        Open(app.MapSwagger(), auth.AnonymousSwagger);
        app.MapGrpcService<LeadScoringService>();
        app.MapGrpcService<SalesFeedbackService>();
        app.MapGrpcService<LeadQueriesService>();
        Open(app.MapGrpcReflectionService(), auth.AnonymousReflection ?? app.Environment.IsDevelopment());
        Open(app.MapGrpcHealthChecksService(), auth.AnonymousHealth);
        app.MapGet("/", () => Results.Redirect("/swagger")).ExcludeFromDescription().AllowAnonymous();
        app.MapDefaultEndpoints(anonymous: auth.AnonymousHealth);
        return app;
    }

    /// <summary>Anonymous when configured so; otherwise the fallback policy applies (any valid key).</summary>
    private static void Open(IEndpointConventionBuilder endpoint, bool anonymous)
    {
        if (anonymous) endpoint.AllowAnonymous();
    }
}
