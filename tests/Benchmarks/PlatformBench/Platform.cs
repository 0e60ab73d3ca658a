using Npgsql;
using ScoringPlatform.TestSupport;

namespace ScoringPlatform.Benchmarks.Platform;

/// <summary>The platform's services as processes on the bench infrastructure, with their peak memory.</summary>
internal sealed class Platform(string schema, string topic) : IAsyncDisposable
{
    private readonly Dictionary<string, ServiceProcess> _running = [];
    private readonly Dictionary<string, int> _healthPorts = [];
    public Dictionary<string, long> PeakRss { get; } = [];
    public int RestPort { get; } = TestEnvironment.FreePort();
    public int GrpcPort { get; } = TestEnvironment.FreePort();
    public string Schema => schema;

    /// <summary>
    /// Ingestion's consumer group. The same in every run (scripts/bench.sh starts a fresh broker for each), because the
    /// dev broker is told it by name to delete what it committed (SCORING_KAFKA_TRIM_GROUPS in scripts/bench.sh).
    /// </summary>
    public const string IngestionGroup = "bench-ingestion";

    public async Task StartAsync(string project)
    {
        var port = project == "Api" ? RestPort : TestEnvironment.FreePort();
        var env = new Dictionary<string, string>
        {
            ["ConnectionStrings__EventStore"] = TestEnvironment.PostgresConnectionString,
            ["EventStore__Schema"] = schema,
            ["Kafka__BootstrapServers"] = TestEnvironment.KafkaBootstrap,
            ["Kafka__EngagementTopic"] = topic,
            ["Kafka__ConsumerGroup"] = IngestionGroup,
            ["Logging__LogLevel__Default"] = "Warning",
            // The start-up rebuild and catch-up say what they did (the bench prints the catch-up's line).
            ["Logging__LogLevel__ScoringPlatform.Projections.Scoring"] = "Information",
            // --soak-only waits for Ingestion's "Partitions assigned" line (a few lines a run, none per message).
            ["Logging__LogLevel__ScoringPlatform.Ingestion.Consuming.EngagementConsumer"] = "Information",
            ["ASPNETCORE_ENVIRONMENT"] = "Production",
        };
        // Experiments: BENCH_SVC_<Setting> is passed to every service as <Setting> (e.g. BENCH_SVC_Ingestion__AppendConcurrency=1).
        foreach (System.Collections.DictionaryEntry v in Environment.GetEnvironmentVariables())
        {
            if (v.Key is string key && key.StartsWith("BENCH_SVC_", StringComparison.Ordinal)) env[key["BENCH_SVC_".Length..]] = (string)v.Value!;
        }

        if (project == "Api")
        {
            env["Kestrel__Endpoints__Rest__Url"] = $"http://127.0.0.1:{RestPort}";
            env["Kestrel__Endpoints__Grpc__Url"] = $"http://127.0.0.1:{GrpcPort}";
            // The bench key: every scope, and a rate limit far above any rate the bench offers.
            foreach (var (key, value) in TestApiKey.Settings()) env[key] = value;
        }
        else
        {
            env["Kestrel__Endpoints__Health__Url"] = $"http://127.0.0.1:{port}";
        }

        var service = ServiceProcess.Start(project, env);
        _running[project] = service;
        _healthPorts[project] = port;
        await service.WaitUntilHealthyAsync(port, TimeSpan.FromMinutes(2));
    }

    /// <summary>The last lines each running service wrote (for diagnosing a stalled stage).</summary>
    public string Logs(int lines = 40) => string.Join("\n", _running.Select(kv =>
        $"--- {kv.Key} (exited: {kv.Value.HasExited}) ---\n" + string.Join("\n", kv.Value.Output.Split('\n').TakeLast(lines))));

    /// <summary>Each running service's RSS now and its peak so far, for the log of a phase (where a peak came from).</summary>
    public string MemoryNow() => string.Join(", ", _running.OrderBy(kv => kv.Key).Select(kv =>
        $"{kv.Key} {kv.Value.RssBytes() / 1_048_576 ?? 0:N0} MB (peak {kv.Value.PeakRssBytes() / 1_048_576 ?? 0:N0})"));

    public void SampleMemory()
    {
        foreach (var (name, service) in _running)
        {
            if (service.PeakRssBytes() is { } rss) PeakRss[name] = Math.Max(PeakRss.GetValueOrDefault(name), rss);
        }
    }

    public async Task StopAsync(string project)
    {
        if (!_running.Remove(project, out var service)) return;
        if (service.PeakRssBytes() is { } rss) PeakRss[project] = Math.Max(PeakRss.GetValueOrDefault(project), rss);
        await service.DisposeAsync();
        // Kept for diagnosis after the run: $SCORING_RUN_DIR/logs/bench-<service>.log (warnings and errors).
        var logs = Path.Combine(Environment.GetEnvironmentVariable("SCORING_RUN_DIR") ?? Path.GetTempPath(), "logs");
        Directory.CreateDirectory(logs);
        await File.WriteAllTextAsync(Path.Combine(logs, $"bench-{project}.log"), service.Output);
    }

    /// <summary>
    /// The cores each process used between <paramref name="before"/> and <paramref name="after"/> (<see cref="CpuSeconds"/>
    /// readings; <paramref name="after"/> is taken now when not given) over <paramref name="elapsed"/>.
    /// </summary>
    public string CpuShares(Dictionary<string, double> before, TimeSpan elapsed, Dictionary<string, double>? after = null) =>
        string.Join(", ", (after ?? CpuSeconds()).Where(kv => before.ContainsKey(kv.Key))
            .Select(kv => $"{kv.Key} {(kv.Value - before[kv.Key]) / elapsed.TotalSeconds:0.00}"));

    /// <summary>
    /// The CPU time each process used between two <see cref="CpuSeconds"/> readings per item of <paramref name="items"/>
    /// (e.g. per event ingested), in microseconds; the machine-wide "idle" and "steal" entries are left out (they are not work done).
    /// </summary>
    public static string CpuPerItem(Dictionary<string, double> before, Dictionary<string, double> after, long items) =>
        string.Join(", ", after.Where(kv => before.ContainsKey(kv.Key) && kv.Key is not (Idle or Steal))
            .Select(kv => $"{kv.Key} {(kv.Value - before[kv.Key]) * 1e6 / items:N0} µs"));

    private const string Idle = "idle";
    private const string Steal = "steal";

    /// <summary>
    /// CPU seconds used so far by each running service, by all PostgreSQL processes together ("postgres"), by the dev
    /// broker ("broker") and by this bench ("bench": producers, samplers): compare two readings to see where a stage's CPU went.
    /// Two machine-wide entries come with them, from <c>/proc/stat</c>: "idle" (idle and I/O wait, all cores) and "steal"
    /// (time the hypervisor gave to other guests while this one had work), so a reading shows how much of the two cores
    /// the run had at all.
    /// </summary>
    public Dictionary<string, double> CpuSeconds()
    {
        var cpu = new Dictionary<string, double>();
        foreach (var (name, service) in _running)
        {
            try
            {
                cpu[name] = System.Diagnostics.Process.GetProcessById(service.ProcessId).TotalProcessorTime.TotalSeconds;
            }
            catch (ArgumentException)
            {
                // exited
            }
        }

        cpu["postgres"] = PostgresCpuSeconds();
        // The dev broker (scripts/infra.sh keeps its pid in the run directory), a process of its own.
        if (Environment.GetEnvironmentVariable("SCORING_RUN_DIR") is { } runDir && File.Exists(Path.Combine(runDir, "broker.pid")) &&
            int.TryParse(File.ReadAllText(Path.Combine(runDir, "broker.pid")).Trim(), out var brokerPid) &&
            ProcCpu($"/proc/{brokerPid}", null) is { } broker)
        {
            cpu["broker"] = broker;
        }

        cpu["bench"] = System.Diagnostics.Process.GetCurrentProcess().TotalProcessorTime.TotalSeconds;
        if (MachineCpu() is var (idle, steal))
        {
            cpu[Idle] = idle;
            cpu[Steal] = steal;
        }

        return cpu;
    }

    /// <summary>Idle (with I/O wait) and steal seconds summed over all cores since boot, from the first line of /proc/stat.</summary>
    private static (double Idle, double Steal)? MachineCpu()
    {
        const double ticksPerSecond = 100.0; // USER_HZ on Linux
        try
        {
            // cpu  user nice system idle iowait irq softirq steal guest guest_nice
            var fields = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries);
            long Field(int i) => long.Parse(fields[i], System.Globalization.CultureInfo.InvariantCulture);
            return ((Field(4) + Field(5)) / ticksPerSecond, Field(8) / ticksPerSecond);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
            return null;
        }
    }

    /// <summary>CPU seconds used so far by all PostgreSQL processes (and the backends they have reaped).</summary>
    public static double PostgresCpuSeconds()
    {
        var postgres = 0.0;
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (ProcCpu(dir, "(postgres") is { } seconds) postgres += seconds;
        }

        return postgres;
    }

    /// <summary>
    /// User + system CPU seconds of the process in <paramref name="dir"/> (a /proc entry) and of the children it has reaped,
    /// read from its stat file, or null when it ended meanwhile or its command is not <paramref name="command"/> (when given).
    /// </summary>
    private static double? ProcCpu(string dir, string? command)
    {
        const double ticksPerSecond = 100.0; // USER_HZ on Linux
        try
        {
            var stat = File.ReadAllText(Path.Combine(dir, "stat"));
            var close = stat.LastIndexOf(')');
            if (close < 0 || (command is not null && !stat.AsSpan(0, close).Contains(command, StringComparison.Ordinal))) return null;
            var fields = stat[(close + 2)..].Split(' ');
            // utime, stime, and cutime, cstime: the children it has reaped. PostgreSQL's postmaster reaps every backend and
            // autovacuum worker that ends: without them, a backend that ended within a window took all its CPU out of the
            // sum (the 30-minute soak reported 0.17 cores for PostgreSQL, three-minute ones 0.65-0.73).
            return (long.Parse(fields[11], System.Globalization.CultureInfo.InvariantCulture) +
                    long.Parse(fields[12], System.Globalization.CultureInfo.InvariantCulture) +
                    long.Parse(fields[13], System.Globalization.CultureInfo.InvariantCulture) +
                    long.Parse(fields[14], System.Globalization.CultureInfo.InvariantCulture)) / ticksPerSecond;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
        {
            return null;
        }
    }

    /// <summary>How many lines the running service has written that contain <paramref name="text"/>.</summary>
    /// <summary>The running service's last log line that contains <paramref name="text"/>, if any.</summary>
    public string? LastLogLine(string project, string text) =>
        _running.TryGetValue(project, out var service) ? service.Output.Split('\n').LastOrDefault(line => line.Contains(text, StringComparison.Ordinal))?.Trim() : null;

    public int CountLogLines(string project, string text) =>
        _running.TryGetValue(project, out var service) ? service.Output.Split('\n').Count(line => line.Contains(text, StringComparison.Ordinal)) : 0;

    public async Task<long> ScalarAsync(string sql)
    {
        await using var connection = new NpgsqlConnection(TestEnvironment.PostgresConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        var value = await command.ExecuteScalarAsync();
        return value is null or DBNull ? 0 : Convert.ToInt64(value, System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>The service's readiness body (JSON) and whether it was ready; null when the request failed.</summary>
    public async Task<(bool Ready, string Body)?> ReadinessAsync(string project, HttpClient http)
    {
        try
        {
            using var response = await http.GetAsync($"http://127.0.0.1:{_healthPorts[project]}/health/ready");
            return (response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
        }
        catch (HttpRequestException)
        {
            return null;
        }
    }

    /// <summary>
    /// How far the live projection is behind, in seconds: the age of the oldest stored event it has not applied yet
    /// (0 when it has applied everything stored).
    /// </summary>
    public Task<double> ProjectionGapSecondsAsync() => OldestEventAboveSecondsAsync("LeadScore:All");

    /// <summary>
    /// The age of the oldest event above the daemon's high-water mark: how far the store's high-water detection (which
    /// waits out sequence gaps left by rolled-back appends) holds every shard back, before any projection runs.
    /// </summary>
    public Task<double> HighWaterGapSecondsAsync() => OldestEventAboveSecondsAsync("HighWaterMark");

    private async Task<double> OldestEventAboveSecondsAsync(string progressionName)
    {
        await using var connection = new NpgsqlConnection(TestEnvironment.PostgresConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(
            $"select extract(epoch from clock_timestamp() - e.timestamp) from {schema}.mt_events e " +
            $"where e.seq_id > (select coalesce(max(last_seq_id), 0) from {schema}.mt_event_progression where name = @name) " +
            "order by e.seq_id limit 1", connection);
        command.Parameters.AddWithValue("name", progressionName);
        return await command.ExecuteScalarAsync() is { } value and not DBNull ? Math.Max(0, Convert.ToDouble(value, System.Globalization.CultureInfo.InvariantCulture)) : 0;
    }

    public Task<long> EventCountAsync() => ScalarAsync($"select count(*) from {schema}.mt_events");

    /// <summary>
    /// The stored event count while the ingest stage polls it: the sequence's last value bounds the count from above (a
    /// rolled-back append only leaves gaps), so <c>count(*)</c>, a scan of the growing <c>mt_events</c> (~30 ms a poll at
    /// 200k rows, ten polls a second, competing with the ingest it measures for PostgreSQL's CPU), runs only once the
    /// bound reaches <paramref name="target"/>.
    /// </summary>
    public async Task<long> EventCountUpToAsync(long target)
    {
        var bound = await ScalarAsync($"select case when is_called then last_value else 0 end from {schema}.mt_events_sequence");
        return bound < target ? bound : await EventCountAsync();
    }

    /// <summary>
    /// Sequence numbers above <paramref name="after"/> and up to the highest stored one that no stored event has: the
    /// gaps left by rolled-back appends (or still in flight), which the high-water detection waits out.
    /// </summary>
    public Task<long> MissingSequenceNumbersAsync(long after) => ScalarAsync(
        $"select coalesce(max(seq_id) - {after} - count(*), 0) from {schema}.mt_events where seq_id > {after}");

    public Task<long> ProjectionPositionAsync() =>
        ScalarAsync($"select coalesce(max(last_seq_id), 0) from {schema}.mt_event_progression where name = 'LeadScore:All'");

    public Task<long> HighWaterAsync() => ScalarAsync($"select coalesce(max(seq_id), 0) from {schema}.mt_events");

    /// <summary>
    /// The score views' table as PostgreSQL's statistics count it so far: row updates, of which HOT (no new index entries),
    /// autovacuum passes, and its heap's size. The counters lag the writers' commits by a few seconds.
    /// </summary>
    public async Task<ViewTableStats> ViewTableStatsAsync()
    {
        var table = $"schemaname = '{schema}' and relname = 'mt_doc_leadscoreview'";
        return new ViewTableStats(
            await ScalarAsync($"select coalesce(sum(n_tup_upd), 0) from pg_stat_user_tables where {table}"),
            await ScalarAsync($"select coalesce(sum(n_tup_hot_upd), 0) from pg_stat_user_tables where {table}"),
            await ScalarAsync($"select coalesce(sum(autovacuum_count), 0) from pg_stat_user_tables where {table}"),
            await ScalarAsync($"select pg_relation_size('{schema}.mt_doc_leadscoreview')"));
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var name in _running.Keys.ToList()) await StopAsync(name);
    }
}

/// <summary>The score views' table's statistics at one moment (see <see cref="Platform.ViewTableStatsAsync"/>).</summary>
internal sealed record ViewTableStats(long Updates, long HotUpdates, long Autovacuums, long HeapBytes)
{
    /// <summary>What changed since <paramref name="before"/>, and the heap's size then and now.</summary>
    public string Since(ViewTableStats before)
    {
        var updates = Updates - before.Updates;
        var hot = HotUpdates - before.HotUpdates;
        return string.Create(System.Globalization.CultureInfo.InvariantCulture,
            $"{updates:N0} updates, {hot:N0} HOT ({(updates > 0 ? 100.0 * hot / updates : 0):0.#} %), {Autovacuums - before.Autovacuums} autovacuum passes, " +
            $"heap {before.HeapBytes / 1048576.0:N0} → {HeapBytes / 1048576.0:N0} MB");
    }
}
