// DevBroker: hosts librdkafka's built-in mock cluster, a Kafka-protocol server on 127.0.0.1 TCP ports,
// for `make run` and `make test`. Real clients (in other processes) connect to it like to any broker.
// Usage: DevBroker [--brokers 3] [--topics name:partitions,...] [--bootstrap-file PATH]
using System.Runtime.InteropServices;
using ScoringPlatform.Tools.DevBroker;

var brokers = 3;
var topics = "engagement-events:6,engagement-events-dlq:3,lead-lifecycle:6";
string? bootstrapFile = null;
for (var i = 0; i < args.Length; i++)
{
    string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
    try
    {
        switch (args[i])
        {
            case "--brokers": brokers = int.Parse(Next(), System.Globalization.CultureInfo.InvariantCulture); break;
            case "--topics": topics = Next(); break;
            case "--bootstrap-file": bootstrapFile = Path.GetFullPath(Next()); break;
            case "-h" or "--help":
                Console.WriteLine("usage: DevBroker [--brokers N] [--topics name:partitions,...] [--bootstrap-file PATH]");
                return 0;
            default: throw new ArgumentException($"unknown argument '{args[i]}'");
        }
    }
    catch (Exception ex) when (ex is ArgumentException or FormatException or OverflowException)
    {
        Console.Error.WriteLine($"DevBroker: {ex.Message} (see --help)");
        return 2;
    }
}

if (brokers is < 1 or > 9)
{
    Console.Error.WriteLine("DevBroker: --brokers must be between 1 and 9");
    return 2;
}

var topicSpecs = new List<(string Name, int Partitions)>();
foreach (var spec in topics.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
{
    var parts = spec.Split(':');
    if (parts.Length != 2 || parts[0].Length == 0 || !int.TryParse(parts[1], out var partitions) || partitions < 1)
    {
        Console.Error.WriteLine($"DevBroker: bad topic '{spec}', expected name:partitions");
        return 2;
    }

    topicSpecs.Add((parts[0], partitions));
}

var errstr = new byte[512];
var conf = Native.ConfNew();
// The handle only owns the mock cluster (and its log output); it never connects anywhere.
Native.ConfSet(conf, "client.id", "dev-broker", errstr, (nuint)errstr.Length);
Native.ConfSet(conf, "log_level", "4", errstr, (nuint)errstr.Length); // no notice about the unset bootstrap.servers
var rk = Native.New(Native.ProducerType, conf, errstr, (nuint)errstr.Length);
if (rk == IntPtr.Zero)
{
    Console.Error.WriteLine($"DevBroker: rd_kafka_new failed: {Native.Text(errstr)}");
    return 1;
}

var cluster = Native.MockClusterNew(rk, brokers);
if (cluster == IntPtr.Zero)
{
    Console.Error.WriteLine("DevBroker: rd_kafka_mock_cluster_new failed");
    Native.Destroy(rk);
    return 1;
}

var replication = Math.Min(brokers, 3);
foreach (var (name, partitions) in topicSpecs)
{
    var err = Native.MockTopicCreate(cluster, name, partitions, replication);
    if (err != 0)
    {
        Console.Error.WriteLine($"DevBroker: creating topic {name} failed: {Native.Text(Native.ErrorString(err))}");
        return 1;
    }
}

var bootstrap = Native.Text(Native.MockClusterBootstraps(cluster));
if (bootstrapFile is not null)
{
    Directory.CreateDirectory(Path.GetDirectoryName(bootstrapFile)!);
    var temp = bootstrapFile + ".tmp";
    File.WriteAllText(temp, bootstrap);
    File.Move(temp, bootstrapFile, overwrite: true);
}

Console.WriteLine($"DevBroker ready bootstrap={bootstrap} brokers={brokers} topics={topics} librdkafka={Native.Text(Native.VersionStr())} ({Path.GetFileName(Native.LoadedFrom)})");

using var stop = new ManualResetEventSlim();
using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, ctx => { ctx.Cancel = true; stop.Set(); });
using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, ctx => { ctx.Cancel = true; stop.Set(); });
stop.Wait();

if (bootstrapFile is not null) File.Delete(bootstrapFile);
Native.MockClusterDestroy(cluster);
Native.Destroy(rk);
Console.WriteLine("DevBroker stopped");
return 0;
