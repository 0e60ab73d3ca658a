using System.Diagnostics;
using Grpc.Core;
using Grpc.Net.Client;
using Npgsql;
using ScoringPlatform.Api.V1;
using ScoringPlatform.Contracts;
using ScoringPlatform.TestSupport;

namespace ScoringPlatform.FaultInjection.Tests;

public enum Service
{
    Ingestion,
    Projections,
    Api,
}

/// <summary>
/// The services as separate processes on the PostgreSQL and dev broker `make test` started, in a schema and
/// consumer group of their own, with the faults a test injects: SIGKILL and restart of one service (same
/// environment and ports) and an immediate stop of PostgreSQL.
/// </summary>
public sealed class FaultPlatform : IAsyncDisposable
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(90);
    private readonly Dictionary<Service, ServiceProcess> _services = [];
    // Guards _services and _restarting: recovery probes check for dead services from other threads while a
    // service is being killed on purpose, and must neither see that kill nor touch the disposed process.
    private readonly Lock _gate = new();
    private readonly HashSet<Service> _restarting = [];
    private readonly Dictionary<Service, int> _healthPorts = [];
    private readonly NpgsqlDataSource _db;

    private FaultPlatform()
    {
        _db = NpgsqlDataSource.Create(TestEnvironment.PostgresConnectionString);
    }

    /// <summary>Prefix of every lead id and event id of this run, so shared topics can be filtered to it.</summary>
    public string RunId { get; } = "f" + Guid.NewGuid().ToString("N")[..10];
    public string Schema { get; } = TestEnvironment.UniqueSchema("fault");

    // Topics of this run only. A new consumer group on the shared topics starts at the earliest offset and
    // replays every earlier test's messages, the hostile scenario's poison included: one scenario's input
    // would then decide another's outcome. The dev broker creates a topic on first produce (4 partitions).
    public string EngagementTopic => $"{Topics.EngagementEvents}-{RunId}";
    public string DeadLetterTopic => $"{Topics.EngagementEventsDeadLetter}-{RunId}";
    public string LifecycleTopic => $"{Topics.LeadLifecycle}-{RunId}";

    /// <summary>A valid event produced before the services start (it creates the topic); it counts as sent.</summary>
    public EngagementEvent Warmup { get; private set; } = null!;
    public KafkaTestClient Kafka { get; } = new(TestEnvironment.KafkaBootstrap);
    public GrpcChannel? Channel { get; private set; }
    public LeadScoring.LeadScoringClient Grpc { get; private set; } = null!;

    public static async Task<FaultPlatform> StartAsync(params Service[] services)
    {
        var platform = new FaultPlatform();
        try
        {
            platform.Warmup = Events.Engagement($"{platform.RunId}-warmup", EngagementEventTypes.EmailOpened, DateTimeOffset.UtcNow, id: $"{platform.RunId}-warmup-e0");
            await platform.Kafka.ProduceAsync(platform.EngagementTopic, platform.Warmup.LeadId!, platform.Warmup);
            // Readers filter on the run id; this key does not start with it.
            await platform.Kafka.ProduceRawAsync(platform.DeadLetterTopic, "topic-created", "{}"u8.ToArray());
            await platform.Kafka.ProduceRawAsync(platform.LifecycleTopic, "topic-created", "{}"u8.ToArray());
            foreach (var service in services) await platform.StartAsync(service);
        }
        catch
        {
            await platform.DisposeAsync();
            throw;
        }

        return platform;
    }

    private async Task StartAsync(Service service)
    {
        var environment = new Dictionary<string, string>
        {
            ["ConnectionStrings__EventStore"] = TestEnvironment.PostgresConnectionString,
            ["EventStore__Schema"] = Schema,
            ["Kafka__BootstrapServers"] = TestEnvironment.KafkaBootstrap,
            ["Kafka__ConsumerGroup"] = "fault-" + Schema,
            ["Kafka__EngagementTopic"] = EngagementTopic,
            ["Kafka__DeadLetterTopic"] = DeadLetterTopic,
            ["Kafka__LifecycleTopic"] = LifecycleTopic,
            // A SIGKILLed consumer never leaves its group: its partitions move to the restarted one only when
            // the session times out (45 s by default). 6 s keeps the suite fast; the recovery figures include it.
            ["Kafka__Client__session.timeout.ms"] = "6000",
            ["Kafka__Client__heartbeat.interval.ms"] = "1000",
        };
        int healthPort;
        if (service == Service.Api)
        {
            healthPort = TestEnvironment.FreePort();
            var grpcPort = TestEnvironment.FreePort();
            environment["Kestrel__Endpoints__Rest__Url"] = $"http://127.0.0.1:{healthPort}";
            environment["Kestrel__Endpoints__Grpc__Url"] = $"http://127.0.0.1:{grpcPort}";
            foreach (var (key, value) in TestApiKey.Settings()) environment[key] = value;
            Channel = GrpcChannel.ForAddress($"http://127.0.0.1:{grpcPort}", new GrpcChannelOptions { HttpHandler = TestApiKey.Handler(new SocketsHttpHandler()) });
            Grpc = new LeadScoring.LeadScoringClient(Channel);
        }
        else
        {
            healthPort = TestEnvironment.FreePort();
            environment["Kestrel__Endpoints__Health__Url"] = $"http://127.0.0.1:{healthPort}";
        }

        var process = ServiceProcess.Start(service.ToString(), environment);
        lock (_gate) _services[service] = process;
        _healthPorts[service] = healthPort;
        await process.WaitUntilHealthyAsync(healthPort, StartTimeout);
    }

    /// <summary>SIGKILLs the service, starts it again with the same environment and waits until it is ready.</summary>
    /// <returns>When the new process was started (recovery is measured from there).</returns>
    public async Task<long> KillAndRestartAsync(Service service)
    {
        ServiceProcess old;
        lock (_gate)
        {
            _restarting.Add(service);
            old = _services[service];
        }

        await old.KillAsync();
        var restartedAt = Stopwatch.GetTimestamp();
        var restarted = await old.RestartAsync();
        lock (_gate)
        {
            _services[service] = restarted;
            _restarting.Remove(service);
        }

        await restarted.WaitUntilHealthyAsync(_healthPorts[service], StartTimeout);
        return restartedAt;
    }

    public async Task<bool> IsReadyAsync(Service service)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        try
        {
            using var response = await http.GetAsync($"http://127.0.0.1:{_healthPorts[service]}/health/ready");
            return response.IsSuccessStatusCode;
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
        {
            return false;
        }
    }

    /// <summary>The verdict, or null while the lead is unknown or the Api is unreachable (it may be restarting).</summary>
    public async Task<Verdict?> VerdictOrNullAsync(string leadId)
    {
        try
        {
            return await Grpc.GetVerdictAsync(new GetVerdictRequest { LeadId = leadId }, deadline: DateTime.UtcNow.AddSeconds(10));
        }
        catch (RpcException ex) when (ex.StatusCode != StatusCode.InvalidArgument)
        {
            return null;
        }
    }

    /// <summary>
    /// How many times each producer event id is stored in this run's event store. Only engagement and profile
    /// events carry a source event id (lifecycle events carry the id of the event that triggered them).
    /// </summary>
    public async Task<Dictionary<string, int>> StoredSourceEventIdsAsync()
    {
        var stored = new Dictionary<string, int>(StringComparer.Ordinal);
        await using var command = _db.CreateCommand(
            $"select source_id, count(*)::int from (select coalesce(data->>'sourceEventId', data->>'SourceEventId') as source_id " +
            $"from {Schema}.mt_events) e where source_id is not null group by source_id");
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync()) stored[reader.GetString(0)] = reader.GetInt32(1);
        return stored;
    }

    public async Task<long> ScalarAsync(string sql)
    {
        await using var command = _db.CreateCommand(sql.Replace("{schema}", Schema, StringComparison.Ordinal));
        return Convert.ToInt64(await command.ExecuteScalarAsync() ?? 0L, System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>Stops PostgreSQL with `pg_ctl -m immediate` through the project's own script (no checkpoint: crash recovery on start).</summary>
    public static Task StopPostgresImmediatelyAsync() => RunPgScriptAsync("stop-immediate");

    public async Task StartPostgresAsync()
    {
        await RunPgScriptAsync("start");
        // The pooled connections of the test's own data source died with the server.
        _db.Clear();
        NpgsqlConnection.ClearAllPools();
    }

    private static async Task RunPgScriptAsync(string command)
    {
        // pg.sh finds the cluster from the variables scripts/test.sh exported; without them it would act on
        // the default (`make run`) cluster, so refuse rather than stop someone else's database.
        foreach (var name in new[] { "SCORING_RUN_DIR", "SCORING_PG_PORT" })
        {
            if (string.IsNullOrEmpty(Environment.GetEnvironmentVariable(name)))
                throw new InvalidOperationException($"{name} is not set: run the fault-injection tests through `make test` (scripts/test.sh exports it).");
        }

        var info = new ProcessStartInfo("bash", [Path.Combine(TestEnvironment.RepositoryRoot, "scripts", "pg.sh"), command])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"scripts/pg.sh {command} exited with {process.ExitCode}:\n{await stdout}\n{await stderr}");
    }

    /// <summary>"running" or the exit code: a service that died is a different finding from one that is stuck.</summary>
    public string State(Service service)
    {
        lock (_gate)
        {
            if (_restarting.Contains(service)) return "restarting";
            return _services[service].HasExited ? $"exited with {_services[service].ExitCode}" : "running";
        }
    }

    /// <summary>Fails the test at once if a service died: waiting out a timeout would only hide why.</summary>
    public void ThrowIfAnyExited()
    {
        List<string> exited;
        lock (_gate) exited = _services.Keys.Select(s => (Service: s, State: State(s))).Where(s => s.State.StartsWith("exited", StringComparison.Ordinal))
            .Select(s => $"{s.Service} {s.State}").ToList();
        if (exited.Count > 0) throw new ServiceExitedException($"{string.Join(", ", exited)}\n{Logs()}");
    }

    public string Logs(Service service)
    {
        lock (_gate) return _services.TryGetValue(service, out var s) && !_restarting.Contains(service) ? s.Output : "";
    }

    /// <summary>The last lines of each service's output, for failure messages (a full log can be 100k lines).</summary>
    public string Logs(int lines = 30)
    {
        List<Service> services;
        lock (_gate) services = [.. _services.Keys];
        return string.Join("\n", services.Select(s => Tail(s, lines)));
    }

    public string Tail(Service service, int lines) =>
        $"--- {service} ({State(service)}), last {lines} lines ---\n" +
        string.Join("\n", Logs(service).Split('\n').TakeLast(lines).Select(l => l.Length > 400 ? l[..400] + "..." : l));

    public async ValueTask DisposeAsync()
    {
        Channel?.Dispose();
        Kafka.Dispose();
        foreach (var service in _services.Values.Reverse()) await service.DisposeAsync();
        await _db.DisposeAsync();
        NpgsqlConnection.ClearAllPools();
        await TestEnvironment.DropSchemaAsync(Schema);
    }
}

public sealed class ServiceExitedException(string message) : Exception(message);

[CollectionDefinition(Name)]
public sealed class FaultCollection
{
    // One collection: the scenarios kill services and stop the shared PostgreSQL, so they must not overlap.
    public const string Name = "fault-injection";
}

/// <summary>Polls a condition with an overall deadline; the caller decides whether a miss fails the test.</summary>
public static class Poll
{
    public static async Task<(T Value, bool Met)> UntilAsync<T>(Func<Task<T>> probe, Func<T, bool> until, TimeSpan timeout, TimeSpan? interval = null)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        T last = default!;
        while (true)
        {
            try
            {
                last = await probe();
                if (until(last)) return (last, true);
            }
            catch (Exception ex) when (ex is NpgsqlException or TimeoutException)
            {
                // The database may be down on purpose; keep polling until the deadline.
            }

            if (Stopwatch.GetTimestamp() > deadline) return (last, false);
            await Task.Delay(interval ?? TimeSpan.FromMilliseconds(250));
        }
    }
}
