using System.Net;
using System.Net.Sockets;
using Confluent.Kafka;

namespace DevBroker.Tests;

/// <summary>DevBroker as a separate process, reached only over TCP by plain Confluent.Kafka clients.</summary>
public sealed class DevBrokerTests : IDisposable
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(20);
    private readonly string _dir = Directory.CreateTempSubdirectory("devbroker-test-").FullName;

    private string BootstrapFile => Path.Combine(_dir, "kafka.bootstrap");

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task Idempotent_producer_and_manually_committing_group_round_trip_1000_keyed_messages_then_SIGTERM_cleans_up()
    {
        using var broker = BrokerProcess.Start("--brokers", "3", "--topics", "orders:6,other:3", "--bootstrap-file", BootstrapFile);
        var bootstrap = await broker.WaitForBootstrapFileAsync(BootstrapFile, StartTimeout);
        bootstrap.Split(',').Should().HaveCount(3).And.OnlyContain(e => e.StartsWith("127.0.0.1:", StringComparison.Ordinal));
        (await broker.WaitForStdoutAsync($"DevBroker ready bootstrap={bootstrap}", StartTimeout)).Should().Contain($"DevBroker ready bootstrap={bootstrap}");

        using (var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = bootstrap }).Build())
        {
            var metadata = admin.GetMetadata(TimeSpan.FromSeconds(10));
            metadata.Brokers.Should().HaveCount(3);
            var orders = metadata.Topics.Single(t => t.Topic == "orders");
            orders.Partitions.Should().HaveCount(6).And.OnlyContain(p => p.Replicas.Length == 3);
        }

        var sent = new Dictionary<string, List<int>>();
        using (var producer = new ProducerBuilder<string, string>(new ProducerConfig
               { BootstrapServers = bootstrap, EnableIdempotence = true, Acks = Acks.All, LingerMs = 5 }).Build())
        {
            var deliveries = new List<Task<DeliveryResult<string, string>>>();
            for (var i = 0; i < 1000; i++)
            {
                var key = $"lead-{i % 37}";
                (sent.TryGetValue(key, out var list) ? list : sent[key] = []).Add(i);
                deliveries.Add(producer.ProduceAsync("orders", new Message<string, string> { Key = key, Value = i.ToString(System.Globalization.CultureInfo.InvariantCulture) }));
            }

            var results = await Task.WhenAll(deliveries);
            results.Should().OnlyContain(r => r.Status == PersistenceStatus.Persisted);
            results.Select(r => r.Partition.Value).Distinct().Should().HaveCountGreaterThan(1, "keys spread over the 6 partitions");
            results.GroupBy(r => r.Message.Key).Should().OnlyContain(g => g.Select(r => r.Partition.Value).Distinct().Count() == 1);
        }

        var received = new Dictionary<string, List<int>>();
        var consumerConfig = new ConsumerConfig
        {
            BootstrapServers = bootstrap,
            GroupId = "devbroker-test",
            AutoOffsetReset = AutoOffsetReset.Earliest,
            EnableAutoCommit = false,
        };
        using (var consumer = new ConsumerBuilder<string, string>(consumerConfig).Build())
        {
            consumer.Subscribe("orders");
            var deadline = DateTime.UtcNow.AddSeconds(60);
            var count = 0;
            while (count < 1000 && DateTime.UtcNow < deadline)
            {
                var result = consumer.Consume(TimeSpan.FromMilliseconds(500));
                if (result is null) continue;
                (received.TryGetValue(result.Message.Key, out var list) ? list : received[result.Message.Key] = [])
                    .Add(int.Parse(result.Message.Value, System.Globalization.CultureInfo.InvariantCulture));
                count++;
                if (count % 100 == 0) consumer.Commit(result); // synchronous commit of the position so far on that partition
            }

            count.Should().Be(1000);
            consumer.Commit(); // everything consumed
            var committed = consumer.Committed(consumer.Assignment, TimeSpan.FromSeconds(10));
            committed.Sum(c => c.Offset.Value).Should().Be(1000, "the group committed the end of every partition");
            consumer.Close();
        }

        received.Should().BeEquivalentTo(sent, o => o.WithStrictOrdering(), "per-key order is kept");

        // A new member of the group starts from the committed offsets: nothing left to read.
        using (var again = new ConsumerBuilder<string, string>(consumerConfig).Build())
        {
            again.Subscribe("orders");
            var extra = 0;
            var until = DateTime.UtcNow.AddSeconds(5);
            while (DateTime.UtcNow < until) if (again.Consume(TimeSpan.FromMilliseconds(250)) is not null) extra++;
            extra.Should().Be(0);
            again.Close();
        }

        (await broker.StopAsync(StopTimeout)).Should().Be(0, broker.Stderr);
        File.Exists(BootstrapFile).Should().BeFalse();
        Directory.GetFiles(_dir).Should().BeEmpty("no temp file is left behind");
    }

    [Fact]
    public async Task Port_base_gives_fixed_ports_that_clients_use_end_to_end()
    {
        var portBase = FreePortRange(2);
        using var broker = BrokerProcess.Start("--brokers", "2", "--topics", "fixed:4", "--bootstrap-file", BootstrapFile, "--port-base", portBase.ToString(System.Globalization.CultureInfo.InvariantCulture));
        var bootstrap = await broker.WaitForBootstrapFileAsync(BootstrapFile, StartTimeout);
        bootstrap.Should().Be($"127.0.0.1:{portBase},127.0.0.1:{portBase + 1}");

        // Any one fixed port is enough to bootstrap; metadata then advertises the fixed ports only.
        using (var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = $"127.0.0.1:{portBase + 1}" }).Build())
        {
            var metadata = admin.GetMetadata(TimeSpan.FromSeconds(10));
            metadata.Brokers.Select(b => (b.Host, b.Port)).Should().BeEquivalentTo(new[] { ("127.0.0.1", portBase), ("127.0.0.1", portBase + 1) });
        }

        using (var producer = new ProducerBuilder<string, string>(new ProducerConfig { BootstrapServers = bootstrap, EnableIdempotence = true }).Build())
        {
            for (var i = 0; i < 100; i++) producer.Produce("fixed", new Message<string, string> { Key = $"k{i % 10}", Value = $"v{i}" });
            producer.Flush(TimeSpan.FromSeconds(30)).Should().Be(0);
        }

        using (var consumer = new ConsumerBuilder<string, string>(new ConsumerConfig
               { BootstrapServers = bootstrap, GroupId = "fixed-ports", AutoOffsetReset = AutoOffsetReset.Earliest, EnableAutoCommit = false }).Build())
        {
            consumer.Subscribe("fixed");
            var values = new HashSet<string>();
            var deadline = DateTime.UtcNow.AddSeconds(60);
            while (values.Count < 100 && DateTime.UtcNow < deadline)
                if (consumer.Consume(TimeSpan.FromMilliseconds(500)) is { } r) values.Add(r.Message.Value);
            values.Should().HaveCount(100);
            consumer.Commit();
            consumer.Close();
        }

        (await broker.StopAsync(StopTimeout)).Should().Be(0, broker.Stderr);
        File.Exists(BootstrapFile).Should().BeFalse();
    }

    [Fact]
    public async Task Producing_to_an_unknown_topic_auto_creates_it_with_the_mock_default_of_4_partitions()
    {
        using var broker = BrokerProcess.Start("--brokers", "3", "--topics", "", "--bootstrap-file", BootstrapFile);
        var bootstrap = await broker.WaitForBootstrapFileAsync(BootstrapFile, StartTimeout);

        using (var producer = new ProducerBuilder<Null, string>(new ProducerConfig { BootstrapServers = bootstrap, EnableIdempotence = true }).Build())
        {
            var result = await producer.ProduceAsync("never-created", new Message<Null, string> { Value = "x" });
            result.Status.Should().Be(PersistenceStatus.Persisted);
        }

        using (var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = bootstrap }).Build())
        {
            var topic = admin.GetMetadata("never-created", TimeSpan.FromSeconds(10)).Topics.Single();
            topic.Error.Code.Should().Be(ErrorCode.NoError);
            topic.Partitions.Should().HaveCount(4).And.OnlyContain(p => p.Replicas.Length == 3);
        }

        (await broker.StopAsync(StopTimeout)).Should().Be(0, broker.Stderr);
    }

    [Fact]
    public async Task Trim_committed_by_deletes_only_what_the_listed_group_committed()
    {
        using var broker = BrokerProcess.Start("--brokers", "1", "--topics", "trimmed:2,kept:1", "--bootstrap-file", BootstrapFile,
            "--trim-committed-by", "trim-group");
        var bootstrap = await broker.WaitForBootstrapFileAsync(BootstrapFile, StartTimeout);
        TopicPartition first = new("trimmed", 0), second = new("trimmed", 1), kept = new("kept", 0);

        using (var producer = new ProducerBuilder<Null, string>(new ProducerConfig { BootstrapServers = bootstrap, LingerMs = 0 }).Build())
        {
            // One message a request, as a website's tracker sends them: one message set each in the mock's log.
            foreach (var partition in new[] { first, second, kept })
                for (var i = 0; i < 100; i++)
                    await producer.ProduceAsync(partition, new Message<Null, string> { Value = $"{partition}-{i}" });
        }

        using var watcher = new ConsumerBuilder<Ignore, string>(new ConsumerConfig { BootstrapServers = bootstrap, GroupId = "watcher" }).Build();
        long Low(TopicPartition p) => watcher.QueryWatermarkOffsets(p, TimeSpan.FromSeconds(10)).Low.Value;
        async Task<long> LowOnceAsync(TopicPartition p, long expected)
        {
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
            while (Low(p) != expected && DateTime.UtcNow < deadline) await Task.Delay(100);
            return Low(p);
        }

        var config = new ConsumerConfig { BootstrapServers = bootstrap, GroupId = "trim-group", EnableAutoCommit = false, AutoOffsetReset = AutoOffsetReset.Earliest };
        using (var group = new ConsumerBuilder<Ignore, string>(config).Build())
        {
            // The group has read 60 messages of the first partition, none of the others.
            group.Commit([new TopicPartitionOffset(first, 60)]);
        }

        (await LowOnceAsync(first, 60)).Should().Be(60, "records the group committed are deleted, and no more");
        // The round that trimmed the first partition looked at every partition: the ones the group never committed stay whole.
        (Low(second), Low(kept)).Should().Be((0L, 0L));

        // Any reader from the earliest offset now starts where the group left off, and misses nothing after it.
        using (var other = new ConsumerBuilder<Ignore, string>(new ConsumerConfig
               { BootstrapServers = bootstrap, GroupId = "other-reader", AutoOffsetReset = AutoOffsetReset.Earliest, EnableAutoCommit = false }).Build())
        {
            other.Assign(new TopicPartitionOffset(first, Offset.Beginning));
            var read = new List<(long Offset, string Value)>();
            var deadline = DateTime.UtcNow.AddSeconds(30);
            while (read.Count < 40 && DateTime.UtcNow < deadline)
                if (other.Consume(TimeSpan.FromMilliseconds(250)) is { } r) read.Add((r.Offset.Value, r.Message.Value));
            read.Should().Equal(Enumerable.Range(60, 40).Select(i => ((long)i, $"{first}-{i}")));
        }

        using (var group = new ConsumerBuilder<Ignore, string>(config).Build())
        {
            group.Commit([new TopicPartitionOffset(first, 100), new TopicPartitionOffset(second, 30)]);
        }

        (await LowOnceAsync(first, 100)).Should().Be(100);
        (await LowOnceAsync(second, 30)).Should().Be(30);
        Low(kept).Should().Be(0);
        broker.Stderr.Should().Contain("deleting the records that group(s) [trim-group] committed").And.NotContain("failed");
        (await broker.StopAsync(StopTimeout)).Should().Be(0, broker.Stderr);
        broker.Stderr.Should().Contain("deleted 130 records that group(s) [trim-group] had committed", "60 + 40 of the first partition, 30 of the second");
    }

    [Theory]
    [InlineData("--brokers", "0")]
    [InlineData("--brokers", "three")]
    [InlineData("--topics", "no-partitions")]
    [InlineData("--topics", "bad name:3")]
    [InlineData("--topics", "a:0")]
    [InlineData("--port-base", "65535")]
    [InlineData("--bootstrap-file")]
    [InlineData("--unknown", "1")]
    [InlineData("--trim-committed-by", " , ")]
    public async Task Bad_arguments_exit_2_with_a_message_and_write_nothing(params string[] args)
    {
        string[] withFile = args is ["--bootstrap-file"] ? args : [.. args, "--bootstrap-file", BootstrapFile];
        using var broker = BrokerProcess.Start(withFile);
        (await broker.WaitForExitAsync(StartTimeout)).Should().Be(2);
        broker.Stderr.Should().StartWith("DevBroker: ").And.Contain("usage:");
        File.Exists(BootstrapFile).Should().BeFalse();
    }

    [Fact]
    public async Task A_taken_fixed_port_is_a_clear_error_exit_1()
    {
        var portBase = FreePortRange(2);
        using var squatter = new TcpListener(IPAddress.Loopback, portBase + 1);
        squatter.Start();
        using var broker = BrokerProcess.Start("--brokers", "2", "--topics", "t:1", "--bootstrap-file", BootstrapFile, "--port-base", portBase.ToString(System.Globalization.CultureInfo.InvariantCulture));
        (await broker.WaitForExitAsync(StartTimeout)).Should().Be(1);
        broker.Stderr.Should().Contain($"cannot listen on 127.0.0.1:{portBase + 1}");
        File.Exists(BootstrapFile).Should().BeFalse();
    }

    /// <summary>A base port whose next <paramref name="count"/> ports are free on 127.0.0.1 right now.</summary>
    private static int FreePortRange(int count)
    {
        for (var attempt = 0; attempt < 50; attempt++)
        {
            var portBase = Random.Shared.Next(20000, 30000);
            var listeners = new List<TcpListener>();
            try
            {
                for (var i = 0; i < count; i++)
                {
                    var listener = new TcpListener(IPAddress.Loopback, portBase + i);
                    listener.Start();
                    listeners.Add(listener);
                }

                return portBase;
            }
            catch (SocketException)
            {
            }
            finally
            {
                foreach (var listener in listeners) listener.Stop();
            }
        }

        throw new InvalidOperationException("no free port range found");
    }
}
