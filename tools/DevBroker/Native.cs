using System.Runtime.InteropServices;

namespace ScoringPlatform.Tools.DevBroker;

/// <summary>
/// P/Invokes into librdkafka, including its experimental mock cluster API (src/rdkafka_mock.h).
/// </summary>
/// <remarks>
/// Binding: the redist package ships several linux builds (librdkafka.so needs libsasl2.so.3, absent on
/// Debian 12; centos8-librdkafka.so does not). Rather than repeating Confluent.Kafka's choice, <see cref="Bind"/>
/// lets Confluent.Kafka's own loader run (<c>Library.Load()</c>), then finds the file it actually mapped into
/// this process in /proc/self/maps and points our [LibraryImport]s at it through a DllImportResolver.
/// <c>NativeLibrary.Load</c> of an already-loaded file returns the existing handle (the dynamic loader matches it),
/// so there is exactly one librdkafka in the process, whichever variant was chosen. The version check
/// below guards that assumption.
/// </remarks>
internal static partial class Native
{
    private const string Lib = "librdkafka-as-loaded-by-Confluent.Kafka";

    public static string LoadedFile { get; private set; } = "";

    public static void Bind()
    {
        Confluent.Kafka.Library.Load();
        var file = File.ReadLines("/proc/self/maps")
            .Select(line => line.IndexOf('/', StringComparison.Ordinal) is var i and >= 0 ? line[i..] : "")
            .FirstOrDefault(path => Path.GetFileName(path).Contains("librdkafka", StringComparison.Ordinal))
            ?? throw new DllNotFoundException("Confluent.Kafka loaded no librdkafka into this process (none in /proc/self/maps)");
        var handle = NativeLibrary.Load(file);
        NativeLibrary.SetDllImportResolver(typeof(Native).Assembly, (name, _, _) => name == Lib ? handle : IntPtr.Zero);
        if (Version() != Confluent.Kafka.Library.Version)
            throw new InvalidOperationException($"{file} is not the librdkafka Confluent.Kafka uses");
        LoadedFile = file;
    }

    public const int RD_KAFKA_PRODUCER = 0;

    [LibraryImport(Lib, EntryPoint = "rd_kafka_version")]
    public static partial int Version();

    [LibraryImport(Lib, EntryPoint = "rd_kafka_conf_new")]
    public static partial IntPtr ConfNew();

    [LibraryImport(Lib, EntryPoint = "rd_kafka_conf_destroy")]
    public static partial void ConfDestroy(IntPtr conf);

    /// <returns>rd_kafka_conf_res_t: 0 = OK.</returns>
    [LibraryImport(Lib, EntryPoint = "rd_kafka_conf_set", StringMarshalling = StringMarshalling.Utf8)]
    public static partial int ConfSet(IntPtr conf, string name, string value, byte[] errstr, nuint errstrSize);

    /// <summary>Frees <paramref name="conf"/> on success only.</summary>
    [LibraryImport(Lib, EntryPoint = "rd_kafka_new")]
    public static partial IntPtr New(int type, IntPtr conf, byte[] errstr, nuint errstrSize);

    [LibraryImport(Lib, EntryPoint = "rd_kafka_destroy")]
    public static partial void Destroy(IntPtr rk);

    [LibraryImport(Lib, EntryPoint = "rd_kafka_err2str")]
    private static partial IntPtr Err2Str(int err);

    public static string ErrorText(int err) => Marshal.PtrToStringUTF8(Err2Str(err)) ?? $"error {err}";

    // --- rdkafka_mock.h ---

    /// <summary>Brokers get ids 1..brokerCount, each listening on 127.0.0.1 with a kernel-chosen port.</summary>
    [LibraryImport(Lib, EntryPoint = "rd_kafka_mock_cluster_new")]
    public static partial IntPtr MockClusterNew(IntPtr rk, int brokerCount);

    [LibraryImport(Lib, EntryPoint = "rd_kafka_mock_cluster_destroy")]
    public static partial void MockClusterDestroy(IntPtr mcluster);

    /// <summary>"host:port,..." in broker id order, computed once at creation (later host/port changes are not reflected).</summary>
    [LibraryImport(Lib, EntryPoint = "rd_kafka_mock_cluster_bootstraps")]
    public static partial IntPtr MockClusterBootstraps(IntPtr mcluster);

    /// <returns>rd_kafka_resp_err_t: 0 = no error.</returns>
    [LibraryImport(Lib, EntryPoint = "rd_kafka_mock_topic_create", StringMarshalling = StringMarshalling.Utf8)]
    public static partial int MockTopicCreate(IntPtr mcluster, string topic, int partitionCount, int replicationFactor);

    /// <summary>Changes only what Metadata/FindCoordinator advertise for the broker; its listen socket stays where it is.</summary>
    [LibraryImport(Lib, EntryPoint = "rd_kafka_mock_broker_set_host_port", StringMarshalling = StringMarshalling.Utf8)]
    public static partial void MockBrokerSetHostPort(IntPtr mcluster, int brokerId, string host, int port);

    /// <summary>
    /// Deletes the partition's message sets that end before <paramref name="beforeOffset"/> and sets its start offset to
    /// it (librdkafka 2.15+). The start offset is set as given, so it must not be below the current one.
    /// </summary>
    /// <returns>rd_kafka_resp_err_t: 0 = no error.</returns>
    [LibraryImport(Lib, EntryPoint = "rd_kafka_mock_partition_delete_records", StringMarshalling = StringMarshalling.Utf8)]
    public static partial int MockPartitionDeleteRecords(IntPtr mcluster, string topic, int partition, long beforeOffset);
}
