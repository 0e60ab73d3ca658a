using Grpc.Core;
using Grpc.Net.Client;
using ScoringPlatform.Api.V1;
using ScoringPlatform.Contracts;
using ScoringPlatform.TestSupport;

namespace ScoringPlatform.EndToEnd.Tests;

/// <summary>
/// The three services as separate processes on the real PostgreSQL and dev broker, with their own schema
/// and consumer group so runs do not see each other's state.
/// </summary>
public class PlatformFixture : IAsyncLifetime
{
    private readonly List<ServiceProcess> _services = [];

    public string Schema { get; } = TestEnvironment.UniqueSchema("e2e");
    public int RestPort { get; } = TestEnvironment.FreePort();
    public int GrpcPort { get; } = TestEnvironment.FreePort();
    public KafkaTestClient Kafka { get; } = new(TestEnvironment.KafkaBootstrap);
    public GrpcChannel Channel { get; private set; } = null!;
    public LeadScoring.LeadScoringClient Grpc { get; private set; } = null!;
    public HttpClient Rest { get; private set; } = null!;
    public IReadOnlyList<ServiceProcess> Services => _services;

    /// <summary>The topics this platform uses (a fixture with its own topics does not see another fixture's events).</summary>
    public virtual string EngagementTopic => Topics.EngagementEvents;
    public virtual string DeadLetterTopic => Topics.EngagementEventsDeadLetter;
    public virtual string LifecycleTopic => Topics.LeadLifecycle;

    /// <summary>A file the Projections and Api services read their clock from (Clock__File), or null for the system clock.</summary>
    public virtual string? ClockFile => null;

    /// <summary>Kills a service (SIGKILL) and starts it again with the same settings; waits until it is healthy.</summary>
    public async Task RestartAsync(string name, int healthPort)
    {
        var index = _services.FindIndex(s => s.Name == name);
        _services[index] = await _services[index].RestartAsync();
        await _services[index].WaitUntilHealthyAsync(healthPort, TimeSpan.FromSeconds(90));
    }

    public int ProjectionsHealthPort { get; private set; }

    public virtual async Task InitializeAsync()
    {
        // As deployed (deploy/k8s): Ingestion owns the schema, the others wait for it; the Api has no Kafka settings.
        var store = new Dictionary<string, string>
        {
            ["ConnectionStrings__EventStore"] = TestEnvironment.PostgresConnectionString,
            ["EventStore__Schema"] = Schema,
        };
        var kafka = new Dictionary<string, string>(store)
        {
            ["Kafka__BootstrapServers"] = TestEnvironment.KafkaBootstrap,
            ["Kafka__ConsumerGroup"] = "e2e-" + Schema,
            ["Kafka__EngagementTopic"] = EngagementTopic,
            ["Kafka__DeadLetterTopic"] = DeadLetterTopic,
            ["Kafka__LifecycleTopic"] = LifecycleTopic,
        };

        var ingestionPort = TestEnvironment.FreePort();
        await StartAsync("Ingestion", ingestionPort, new(kafka) { ["Kestrel__Endpoints__Health__Url"] = $"http://127.0.0.1:{ingestionPort}" });
        var projectionsPort = ProjectionsHealthPort = TestEnvironment.FreePort();
        var projections = new Dictionary<string, string>(kafka)
        {
            ["EventStore__ApplySchemaOnStart"] = "false",
            ["Kestrel__Endpoints__Health__Url"] = $"http://127.0.0.1:{projectionsPort}",
        };
        var api = new Dictionary<string, string>(store)
        {
            ["EventStore__ApplySchemaOnStart"] = "false",
            ["Kestrel__Endpoints__Rest__Url"] = $"http://127.0.0.1:{RestPort}",
            ["Kestrel__Endpoints__Grpc__Url"] = $"http://127.0.0.1:{GrpcPort}",
        };
        foreach (var (key, value) in TestApiKey.Settings()) api[key] = value;
        if (ClockFile is { } clock)
        {
            projections["Clock__File"] = clock;
            api["Clock__File"] = clock;
        }

        await StartAsync("Projections", projectionsPort, projections);
        await StartAsync("Api", RestPort, api);

        // Every call carries the test key (the Api refuses calls without one).
        Channel = GrpcChannel.ForAddress($"http://127.0.0.1:{GrpcPort}", new GrpcChannelOptions { HttpHandler = TestApiKey.Handler(new SocketsHttpHandler()) });
        Grpc = new LeadScoring.LeadScoringClient(Channel);
        Rest = new HttpClient(TestApiKey.Handler(new SocketsHttpHandler())) { BaseAddress = new Uri($"http://127.0.0.1:{RestPort}") };
    }

    private async Task StartAsync(string project, int healthPort, Dictionary<string, string> environment)
    {
        var service = ServiceProcess.Start(project, environment);
        _services.Add(service);
        await service.WaitUntilHealthyAsync(healthPort, TimeSpan.FromSeconds(90));
    }

    /// <summary>
    /// The lead's verdict (over gRPC, with the fixture's key) once <paramref name="until"/> holds; NOT_FOUND counts as
    /// "not yet". Fails after <paramref name="wait"/> (default 60 s) with the last verdict and the services' logs.
    /// </summary>
    public Task<Verdict> VerdictWhen(string leadId, Func<Verdict, bool> until, TimeSpan? wait = null) =>
        Eventually.Get<Verdict>(async () =>
        {
            try
            {
                return await Grpc.GetVerdictAsync(new GetVerdictRequest { LeadId = leadId });
            }
            catch (RpcException ex) when (ex.StatusCode == StatusCode.NotFound)
            {
                return null;
            }
        }, until, wait ?? TimeSpan.FromSeconds(60), $"the verdict of {leadId}\n{Logs()}");

    public string Logs() => string.Join("\n", _services.Select(s => $"--- {s.Name} ---\n{s.Output}"));

    public virtual async Task DisposeAsync()
    {
        Channel?.Dispose();
        Rest?.Dispose();
        Kafka.Dispose();
        foreach (var service in Enumerable.Reverse(_services)) await service.DisposeAsync();
    }
}

[CollectionDefinition(Name)]
public sealed class PlatformCollection : ICollectionFixture<PlatformFixture>
{
    public const string Name = "platform";
}
