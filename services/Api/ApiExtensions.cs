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
        builder.Services.AddGrpc(o => o.EnableDetailedErrors = builder.Environment.IsDevelopment()).AddJsonTranscoding();
        builder.Services.AddGrpcReflection();
        // grpc.health.v1 answers from the same checks as /health/ready, run on each Check call.
        builder.Services.AddGrpcHealthChecks();
        builder.Services.AddProblemDetails();
        builder.Services.AddEndpointsApiExplorer();
        builder.Services.AddSwaggerGen(o =>
        {
            o.SwaggerDoc("v1", new() { Title = "ScoringPlatform API", Version = "v1", Description = "REST mirror of protos/scoring.proto (gRPC JSON transcoding)." });
            o.DocumentFilter<ProtoHttpRulesDocumentFilter>();
        });
        return builder;
    }

    public static WebApplication MapApi(this WebApplication app)
    {
        app.UseMiddleware<GrpcErrorsAsProblemDetails>();
        app.UseSwagger();
        app.UseSwaggerUI(o => o.SwaggerEndpoint("/swagger/v1/swagger.json", "ScoringPlatform v1"));
        app.MapGrpcService<LeadScoringService>();
        app.MapGrpcService<SalesFeedbackService>();
        app.MapGrpcService<LeadQueriesService>();
        app.MapGrpcReflectionService();
        app.MapGrpcHealthChecksService();
        app.MapGet("/", () => Results.Redirect("/swagger")).ExcludeFromDescription();
        return app;
    }
}
