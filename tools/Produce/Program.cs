// Dev tool: validates engagement events (JSON, one per line, from stdin or arguments) against the contract
// and produces them to Kafka keyed by lead id, the way a website or marketing system would.
// Usage: produce [--bootstrap host:port] [--topic engagement-events] [json ...]
using System.Text;
using Confluent.Kafka;
using ScoringPlatform.Contracts;

var bootstrap = Environment.GetEnvironmentVariable("Kafka__BootstrapServers");
var topic = Topics.EngagementEvents;
var inputs = new List<string>();
for (var i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--bootstrap" when i + 1 < args.Length: bootstrap = args[++i]; break;
        case "--topic" when i + 1 < args.Length: topic = args[++i]; break;
        case "-h" or "--help":
            Console.WriteLine("usage: produce [--bootstrap host:port] [--topic name] [event-json ...]  (reads JSON lines from stdin when none given)");
            return 0;
        default: inputs.Add(args[i]); break;
    }
}

if (string.IsNullOrWhiteSpace(bootstrap))
{
    var file = Path.Combine(FindRoot(), ".run", "kafka.bootstrap");
    bootstrap = File.Exists(file) ? File.ReadAllText(file).Trim() : null;
}

if (string.IsNullOrWhiteSpace(bootstrap))
{
    Console.Error.WriteLine("No Kafka bootstrap: pass --bootstrap, set Kafka__BootstrapServers, or start `make run` (writes .run/kafka.bootstrap).");
    return 2;
}

if (inputs.Count == 0)
{
    while (Console.In.ReadLine() is { } line)
    {
        if (!string.IsNullOrWhiteSpace(line)) inputs.Add(line);
    }
}

using var producer = new ProducerBuilder<string, byte[]>(new ProducerConfig { BootstrapServers = bootstrap, EnableIdempotence = true }).Build();
var failures = 0;
foreach (var json in inputs)
{
    var bytes = Encoding.UTF8.GetBytes(json);
    if (!EngagementEventParser.TryParse(bytes, TimeProvider.System, out var evt, out var reason))
    {
        Console.Error.WriteLine($"rejected ({reason}): {json}");
        failures++;
        continue;
    }

    var result = await producer.ProduceAsync(topic, new Message<string, byte[]> { Key = evt!.StreamKey, Value = bytes });
    Console.WriteLine($"produced {evt.Type} {evt.Id} for {evt.StreamKey} -> {result.TopicPartitionOffset}");
}

return failures == 0 ? 0 : 1;

static string FindRoot()
{
    var dir = new DirectoryInfo(Directory.GetCurrentDirectory());
    while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "ScoringPlatform.sln"))) dir = dir.Parent;
    return dir?.FullName ?? Directory.GetCurrentDirectory();
}
