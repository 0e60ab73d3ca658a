// DevBroker: hosts librdkafka's built-in mock cluster - Kafka-protocol brokers on 127.0.0.1 TCP ports - for
// `make run` and the tests. Clients in other processes connect to it as to any Kafka cluster.
// Run `DevBroker --help` for the options.
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Confluent.Kafka;
using ScoringPlatform.Tools.DevBroker;

var options = Options.Parse(args, out var error);
if (options is null)
{
    if (error is null)
    {
        Console.WriteLine(Options.Usage);
        return 0;
    }

    Console.Error.WriteLine($"DevBroker: {error}");
    Console.Error.WriteLine(Options.Usage);
    return 2;
}

using var stop = new ManualResetEventSlim();
using var onTerm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, ctx => { ctx.Cancel = true; stop.Set(); });
using var onInt = PosixSignalRegistration.Create(PosixSignal.SIGINT, ctx => { ctx.Cancel = true; stop.Set(); });

// A bootstrap file left by a killed run would point at dead ports: it only exists while we are ready.
if (options.BootstrapFile is not null)
{
    Directory.CreateDirectory(Path.GetDirectoryName(options.BootstrapFile)!);
    File.Delete(options.BootstrapFile);
}

MockCluster? cluster = null;
LogTrimmer? trimmer = null;
var forwarders = new List<PortForwarder>();
try
{
    Native.Bind();
    cluster = new MockCluster(options.Brokers);
    foreach (var topic in options.Topics) cluster.CreateTopic(topic.Name, topic.Partitions, options.ReplicationFactor);

    var endpoints = new List<string>();
    for (var id = 1; id <= options.Brokers; id++)
    {
        var port = cluster.ListenPorts[id - 1];
        if (options.PortBase is { } portBase)
        {
            // The mock binds 127.0.0.1:0 (kernel-chosen port) and has no API to bind elsewhere, so a fixed port
            // is a relay to it, and the broker advertises the fixed port in Metadata/FindCoordinator.
            port = portBase + id - 1;
            try
            {
                forwarders.Add(new PortForwarder(port, cluster.ListenPorts[id - 1]));
            }
            catch (SocketException ex)
            {
                throw new InvalidOperationException($"cannot listen on 127.0.0.1:{port} for broker {id}: {ex.Message}", ex);
            }

            cluster.Advertise(id, "127.0.0.1", port);
        }

        endpoints.Add($"127.0.0.1:{port}");
    }

    var bootstrap = string.Join(',', endpoints);
    CheckReachable(bootstrap, options);
    if (options.TrimGroups.Count > 0) trimmer = new LogTrimmer(cluster, bootstrap, options.Topics, options.TrimGroups);

    if (options.BootstrapFile is { } file)
    {
        var temp = $"{file}.{Environment.ProcessId}.tmp";
        File.WriteAllText(temp, bootstrap);
        File.Move(temp, file, overwrite: true);
    }

    Console.WriteLine($"DevBroker ready bootstrap={bootstrap}");
    Console.Error.WriteLine(
        $"DevBroker: {options.Brokers} broker(s), topics [{string.Join(", ", options.Topics.Select(t => $"{t.Name}:{t.Partitions}"))}] " +
        $"with replication factor {options.ReplicationFactor}, librdkafka {Library.VersionString} ({Path.GetFileName(Native.LoadedFile)})" +
        (trimmer is null ? "" : $"; deleting the records that group(s) [{string.Join(", ", options.TrimGroups)}] committed, every {LogTrimmer.Interval.TotalSeconds:0} s") +
        "; stop with SIGINT/SIGTERM");
    stop.Wait();
    return 0;
}
catch (Exception ex) when (ex is InvalidOperationException or DllNotFoundException or EntryPointNotFoundException or KafkaException or IOException)
{
    Console.Error.WriteLine($"DevBroker: {ex.Message}");
    return 1;
}
finally
{
    if (options.BootstrapFile is not null) File.Delete(options.BootstrapFile);
    if (trimmer is not null)
    {
        trimmer.Dispose();
        Console.Error.WriteLine($"DevBroker: deleted {trimmer.Deleted:N0} records that group(s) [{string.Join(", ", options.TrimGroups)}] had committed");
    }

    foreach (var forwarder in forwarders) forwarder.Dispose();
    cluster?.Dispose();
}

// Ready means a client got through: Metadata over TCP (through the relays, if any) lists every broker and topic.
static void CheckReachable(string bootstrap, Options options)
{
    using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = bootstrap })
        .SetLogHandler((_, _) => { })
        .Build();
    var metadata = admin.GetMetadata(TimeSpan.FromSeconds(10));
    var missing = options.Topics.Where(t => metadata.Topics.Find(m => m.Topic == t.Name)?.Partitions.Count != t.Partitions).ToList();
    if (metadata.Brokers.Count != options.Brokers || missing.Count > 0)
        throw new InvalidOperationException(
            $"cluster not as asked: {metadata.Brokers.Count} broker(s) in metadata, topics missing or wrong: {string.Join(", ", missing.Select(t => t.Name))}");
}
