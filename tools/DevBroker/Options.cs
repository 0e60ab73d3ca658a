using System.Globalization;
using System.Text.RegularExpressions;

namespace ScoringPlatform.Tools.DevBroker;

internal sealed record TopicSpec(string Name, int Partitions);

internal sealed partial record Options(int Brokers, IReadOnlyList<TopicSpec> Topics, string? BootstrapFile, int? PortBase, IReadOnlyList<string> TrimGroups)
{
    public const string Usage =
        "usage: DevBroker [--brokers 3] [--topics engagement-events:6,engagement-events-dlq:3,lead-lifecycle:6]\n" +
        "                 [--bootstrap-file PATH] [--port-base N] [--trim-committed-by GROUP,...]\n" +
        "  --brokers N         mock brokers (1-100), ids 1..N; topics get replication factor min(N, 3)\n" +
        "  --topics LIST       name:partitions,... created before the broker reports ready (\"\" for none)\n" +
        "  --bootstrap-file P  written (temp file + rename) once ready; deleted on shutdown\n" +
        "  --port-base N       broker i listens on 127.0.0.1:N+i-1 (default: ports chosen by the kernel)\n" +
        "  --trim-committed-by every second, delete from the --topics partitions the records all these consumer groups\n" +
        "                      have committed (the mock looks offsets up by walking the log, so a long log costs CPU on\n" +
        "                      every fetch); other readers then miss them, as after a real broker's retention. Default: keep\n" +
        "                      (up to the mock's own cap of 100,000 messages or 5 MB a partition)\n" +
        "Runs until SIGINT/SIGTERM.";

    public const string DefaultTopics = "engagement-events:6,engagement-events-dlq:3,lead-lifecycle:6";

    public int ReplicationFactor => Math.Min(Brokers, 3);

    /// <summary>Parses the command line; null with <paramref name="error"/> set when it is invalid, null without an error for --help.</summary>
    public static Options? Parse(string[] args, out string? error)
    {
        error = null;
        var brokers = "3";
        var topics = DefaultTopics;
        string? bootstrapFile = null;
        string? portBase = null;
        var trimGroups = "";
        for (var i = 0; i < args.Length; i++)
        {
            var name = args[i];
            if (name is "-h" or "--help") return null;
            if (name is not ("--brokers" or "--topics" or "--bootstrap-file" or "--port-base" or "--trim-committed-by"))
            {
                error = $"unknown argument '{name}'";
                return null;
            }

            if (i + 1 >= args.Length)
            {
                error = $"{name} needs a value";
                return null;
            }

            var value = args[++i];
            switch (name)
            {
                case "--brokers": brokers = value; break;
                case "--topics": topics = value; break;
                case "--bootstrap-file": bootstrapFile = value; break;
                case "--trim-committed-by": trimGroups = value; break;
                default: portBase = value; break;
            }
        }

        if (!int.TryParse(brokers, NumberStyles.None, CultureInfo.InvariantCulture, out var brokerCount) || brokerCount is < 1 or > 100)
        {
            error = $"--brokers must be a number from 1 to 100, not '{brokers}'";
            return null;
        }

        int? basePort = null;
        if (portBase is not null)
        {
            if (!int.TryParse(portBase, NumberStyles.None, CultureInfo.InvariantCulture, out var p) || p < 1 || p + brokerCount - 1 > 65535)
            {
                error = $"--port-base must be a port such that all {brokerCount} broker ports fit below 65536, not '{portBase}'";
                return null;
            }

            basePort = p;
        }

        if (bootstrapFile is { Length: 0 })
        {
            error = "--bootstrap-file needs a path";
            return null;
        }

        var specs = new List<TopicSpec>();
        foreach (var spec in topics.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var colon = spec.LastIndexOf(':');
            var topic = colon > 0 ? spec[..colon] : "";
            if (!TopicName().IsMatch(topic)
                || !int.TryParse(spec[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var partitions)
                || partitions is < 1 or > 10000)
            {
                error = $"bad topic '{spec}': expected name:partitions (name of [a-zA-Z0-9._-], 1-10000 partitions)";
                return null;
            }

            if (specs.Any(s => s.Name == topic))
            {
                error = $"topic '{topic}' given twice";
                return null;
            }

            specs.Add(new TopicSpec(topic, partitions));
        }

        var groups = trimGroups.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Distinct().ToList();
        if (trimGroups.Length > 0 && groups.Count == 0)
        {
            error = "--trim-committed-by needs consumer group names";
            return null;
        }

        return new Options(brokerCount, specs, bootstrapFile is null ? null : Path.GetFullPath(bootstrapFile), basePort, groups);
    }

    [GeneratedRegex("^[a-zA-Z0-9._-]{1,249}$")]
    private static partial Regex TopicName();
}
