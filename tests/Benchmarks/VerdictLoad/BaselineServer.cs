using System.Net;
using Grpc.Core;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using ScoringPlatform.Api.V1;

namespace ScoringPlatform.Benchmarks.VerdictLoad;

/// <summary>The empty handler: same proto and service, answers every GetVerdict with one constant small Verdict.</summary>
internal sealed class EmptyLeadScoring : LeadScoring.LeadScoringBase
{
    private static readonly Task<Verdict> Constant = Task.FromResult(new Verdict
    {
        LeadId = "lead-baseline",
        IsMql = true,
        Tier = MqlTier.Mql,
        TotalScore = 72.5,
        FitScore = 40,
        EngagementScore = 32.5,
        MatrixCell = "B2",
        ModelId = "default",
        ModelVersion = 1,
        EventCount = 3,
    });

    public override Task<Verdict> GetVerdict(GetVerdictRequest request, ServerCallContext context) => Constant;
}

/// <summary>
/// Kestrel in this process on 127.0.0.1 (ephemeral ports): an HTTP/2-only (h2c) endpoint for gRPC and an
/// HTTP/1.1 endpoint for REST, the same shape as the Api's; REST goes through gRPC JSON transcoding like the Api's.
/// </summary>
internal sealed class BaselineServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private BaselineServer(WebApplication app, Uri grpc, Uri rest)
    {
        _app = app;
        GrpcAddress = grpc;
        RestAddress = rest;
    }

    public Uri GrpcAddress { get; }
    public Uri RestAddress { get; }

    public static async Task<BaselineServer> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions
        {
            EnvironmentName = "Production",
            ContentRootPath = AppContext.BaseDirectory,
        });
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Listen(IPAddress.Loopback, 0, o => o.Protocols = HttpProtocols.Http2);
            k.Listen(IPAddress.Loopback, 0, o => o.Protocols = HttpProtocols.Http1);
        });
        builder.Services.AddGrpc().AddJsonTranscoding();
        var app = builder.Build();
        app.MapGrpcService<EmptyLeadScoring>();
        await app.StartAsync();

        // Kestrel reports the bound addresses in the order the endpoints were configured.
        var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.ToArray();
        if (addresses.Length != 2) throw new InvalidOperationException("baseline server: expected two bound addresses, got " + string.Join(", ", addresses));
        return new BaselineServer(app, new Uri(addresses[0]), new Uri(addresses[1]));
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
