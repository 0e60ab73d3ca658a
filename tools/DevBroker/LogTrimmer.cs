using Confluent.Kafka;

namespace ScoringPlatform.Tools.DevBroker;

/// <summary>
/// <c>--trim-committed-by</c>: deletes, every <see cref="Interval"/>, the records of the created topics that every listed
/// consumer group has committed past.
/// <para>
/// Why: the mock finds the message set of a fetch offset by walking the partition's log from its start (librdkafka's
/// <c>rd_kafka_mock_msgset_find</c>, "FIXME: Maintain an index"), once per partition per Fetch request. A producer that
/// sends small batches leaves one message set per few messages, up to the mock's cap of 100,000 messages or 5 MB a
/// partition, and the walk then costs the broker most of a core at 1,000 messages/s (measured: 92 % of its samples in
/// that function, 0.74 cores). A real broker looks offsets up in an index. Keeping only what is not yet committed keeps
/// the walk short.
/// </para>
/// <para>
/// Off by default: once a listed group has committed, a reader of any other group can no longer read the deleted
/// records, as after a real broker's retention. A partition that a listed group has not committed to is left alone.
/// </para>
/// </summary>
internal sealed class LogTrimmer : IDisposable
{
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan QueryTimeout = TimeSpan.FromSeconds(5);

    private readonly MockCluster _cluster;
    private readonly List<TopicPartition> _partitions;
    private readonly List<IConsumer<Ignore, Ignore>> _groups;
    private readonly CancellationTokenSource _stop = new();
    private readonly Thread _thread;
    // The offset each partition was last trimmed to: a commit that has not moved needs no watermark query or delete.
    private readonly Dictionary<TopicPartition, long> _trimmedTo = [];
    private string? _lastError;

    public LogTrimmer(MockCluster cluster, string bootstrap, IEnumerable<TopicSpec> topics, IEnumerable<string> groups)
    {
        _cluster = cluster;
        _partitions = topics.SelectMany(t => Enumerable.Range(0, t.Partitions).Select(p => new TopicPartition(t.Name, p))).ToList();
        // Consumers that never subscribe: they only ask the group's committed offsets (OffsetFetch) and the partitions'
        // watermarks, so they neither join the group nor disturb its members.
        _groups = groups.Select(group => new ConsumerBuilder<Ignore, Ignore>(new ConsumerConfig
            {
                BootstrapServers = bootstrap,
                GroupId = group,
                EnableAutoCommit = false,
                ClientId = "dev-broker-trim",
            })
            .SetLogHandler((_, _) => { })
            .Build()).ToList();
        _thread = new Thread(Run) { IsBackground = true, Name = "dev-broker-trim" };
        _thread.Start();
    }

    /// <summary>Records deleted so far (read it after <see cref="Dispose"/>: the trimming thread writes it).</summary>
    public long Deleted { get; private set; }

    private void Run()
    {
        while (!_stop.Token.WaitHandle.WaitOne(Interval))
        {
            try
            {
                Deleted += TrimOnce();
                _lastError = null;
            }
            catch (Exception ex) when (ex is KafkaException or InvalidOperationException)
            {
                // Said once per distinct failure (a group coordinator still loading, a stopping cluster), not every second.
                if (ex.Message != _lastError) Console.Error.WriteLine($"DevBroker: trimming committed records failed, will retry: {ex.Message}");
                _lastError = ex.Message;
            }
        }
    }

    private long TrimOnce()
    {
        // The lowest offset every group has committed, per partition; a partition any group has not committed stays whole.
        var lowest = new Dictionary<TopicPartition, long>();
        var uncommitted = new HashSet<TopicPartition>();
        foreach (var group in _groups)
        {
            foreach (var c in group.Committed(_partitions, QueryTimeout))
            {
                if (c.Offset.IsSpecial) uncommitted.Add(c.TopicPartition);
                else lowest[c.TopicPartition] = lowest.TryGetValue(c.TopicPartition, out var o) ? Math.Min(o, c.Offset.Value) : c.Offset.Value;
            }
        }

        long deleted = 0;
        foreach (var (partition, committed) in lowest)
        {
            if (uncommitted.Contains(partition) || committed <= _trimmedTo.GetValueOrDefault(partition)) continue;
            // The mock sets the start offset to what it is given, so never below the current one (its own size cap may
            // have moved it past a slow group's commit).
            var start = _groups[0].QueryWatermarkOffsets(partition, QueryTimeout).Low.Value;
            if (committed > start)
            {
                _cluster.DeleteRecords(partition.Topic, partition.Partition.Value, committed);
                deleted += committed - start;
            }

            _trimmedTo[partition] = committed;
        }

        return deleted;
    }

    public void Dispose()
    {
        _stop.Cancel();
        _thread.Join();
        foreach (var group in _groups) group.Dispose();
        _stop.Dispose();
    }
}
