using System.Globalization;
using System.Runtime.InteropServices;

namespace ScoringPlatform.Tools.DevBroker;

/// <summary>librdkafka's mock cluster: real Kafka-protocol brokers on 127.0.0.1, run by librdkafka threads in this process.</summary>
internal sealed class MockCluster : IDisposable
{
    private IntPtr _rk;
    private IntPtr _cluster;

    public MockCluster(int brokers)
    {
        // The mock cluster needs an rd_kafka_t for bookkeeping only; this one is never given bootstrap servers.
        var errstr = new byte[512];
        var conf = Native.ConfNew();
        Native.ConfSet(conf, "client.id", "dev-broker", errstr, (nuint)errstr.Length);
        Native.ConfSet(conf, "log_level", "4", errstr, (nuint)errstr.Length); // hides the "no bootstrap.servers" notice; errors still print
        _rk = Native.New(Native.RD_KAFKA_PRODUCER, conf, errstr, (nuint)errstr.Length);
        if (_rk == IntPtr.Zero)
        {
            Native.ConfDestroy(conf);
            throw new InvalidOperationException($"rd_kafka_new failed: {System.Text.Encoding.UTF8.GetString(errstr).TrimEnd('\0')}");
        }

        _cluster = Native.MockClusterNew(_rk, brokers);
        if (_cluster == IntPtr.Zero)
        {
            Native.Destroy(_rk);
            throw new InvalidOperationException("rd_kafka_mock_cluster_new failed (see librdkafka's log above)");
        }

        // Broker i (id i+1) listens on the i-th entry.
        ListenPorts = (Marshal.PtrToStringUTF8(Native.MockClusterBootstraps(_cluster)) ?? "")
            .Split(',')
            .Select(hostPort => int.Parse(hostPort[(hostPort.LastIndexOf(':') + 1)..], CultureInfo.InvariantCulture))
            .ToArray();
    }

    /// <summary>The kernel-chosen listen port of each broker, by broker id - 1.</summary>
    public IReadOnlyList<int> ListenPorts { get; }

    public void CreateTopic(string name, int partitions, int replicationFactor)
    {
        var err = Native.MockTopicCreate(_cluster, name, partitions, replicationFactor);
        if (err != 0) throw new InvalidOperationException($"creating topic {name} failed: {Native.ErrorText(err)}");
    }

    /// <summary>Makes broker <paramref name="brokerId"/> advertise <paramref name="host"/>:<paramref name="port"/> to clients.</summary>
    public void Advertise(int brokerId, string host, int port) => Native.MockBrokerSetHostPort(_cluster, brokerId, host, port);

    /// <summary>Deletes the records of a partition before <paramref name="beforeOffset"/> (see <see cref="Native.MockPartitionDeleteRecords"/>).</summary>
    public void DeleteRecords(string topic, int partition, long beforeOffset)
    {
        var err = Native.MockPartitionDeleteRecords(_cluster, topic, partition, beforeOffset);
        if (err != 0) throw new InvalidOperationException($"deleting the records of {topic} [{partition}] before {beforeOffset} failed: {Native.ErrorText(err)}");
    }

    public void Dispose()
    {
        if (_cluster != IntPtr.Zero) Native.MockClusterDestroy(_cluster);
        if (_rk != IntPtr.Zero) Native.Destroy(_rk);
        _cluster = _rk = IntPtr.Zero;
    }
}
