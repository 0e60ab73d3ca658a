using System.Reflection;
using System.Runtime.InteropServices;

namespace ScoringPlatform.Tools.DevBroker;

/// <summary>
/// P/Invoke into the librdkafka that Confluent.Kafka's redist package ships. The default linux build needs
/// libsasl2.so.3 (absent on Debian 12), so the resolver tries the package's variants in order, as
/// Confluent.Kafka's own loader does, and keeps the first that loads.
/// </summary>
internal static partial class Native
{
    private const string Lib = "rdkafka";

    static Native()
    {
        NativeLibrary.SetDllImportResolver(typeof(Native).Assembly, Resolve);
    }

    public static string? LoadedFrom { get; private set; }

    private static IntPtr Resolve(string name, Assembly assembly, DllImportSearchPath? path)
    {
        if (name != Lib) return IntPtr.Zero;
        var rid = RuntimeInformation.ProcessArchitecture == Architecture.Arm64 ? "linux-arm64" : "linux-x64";
        var dir = Path.Combine(AppContext.BaseDirectory, "runtimes", rid, "native");
        var errors = new List<string>();
        foreach (var file in new[] { "librdkafka.so", "centos8-librdkafka.so", "centos7-librdkafka.so", "alpine-librdkafka.so" })
        {
            var candidate = Path.Combine(dir, file);
            if (!File.Exists(candidate)) continue;
            if (NativeLibrary.TryLoad(candidate, out var handle))
            {
                LoadedFrom = candidate;
                return handle;
            }

            errors.Add(file);
        }

        throw new DllNotFoundException($"No loadable librdkafka in {dir} (tried: {string.Join(", ", errors)})");
    }

    public const int ProducerType = 0;

    [LibraryImport(Lib, EntryPoint = "rd_kafka_conf_new")]
    public static partial IntPtr ConfNew();

    [LibraryImport(Lib, EntryPoint = "rd_kafka_conf_set", StringMarshalling = StringMarshalling.Utf8)]
    public static partial int ConfSet(IntPtr conf, string name, string value, byte[] errstr, nuint errstrSize);

    [LibraryImport(Lib, EntryPoint = "rd_kafka_new")]
    public static partial IntPtr New(int type, IntPtr conf, byte[] errstr, nuint errstrSize);

    [LibraryImport(Lib, EntryPoint = "rd_kafka_destroy")]
    public static partial void Destroy(IntPtr rk);

    [LibraryImport(Lib, EntryPoint = "rd_kafka_version_str")]
    public static partial IntPtr VersionStr();

    [LibraryImport(Lib, EntryPoint = "rd_kafka_mock_cluster_new")]
    public static partial IntPtr MockClusterNew(IntPtr rk, int brokerCount);

    [LibraryImport(Lib, EntryPoint = "rd_kafka_mock_cluster_destroy")]
    public static partial void MockClusterDestroy(IntPtr cluster);

    [LibraryImport(Lib, EntryPoint = "rd_kafka_mock_cluster_bootstraps")]
    public static partial IntPtr MockClusterBootstraps(IntPtr cluster);

    [LibraryImport(Lib, EntryPoint = "rd_kafka_mock_topic_create", StringMarshalling = StringMarshalling.Utf8)]
    public static partial int MockTopicCreate(IntPtr cluster, string topic, int partitions, int replicationFactor);

    [LibraryImport(Lib, EntryPoint = "rd_kafka_err2str")]
    public static partial IntPtr ErrorString(int err);

    public static string Text(IntPtr utf8) => Marshal.PtrToStringUTF8(utf8) ?? "";

    public static string Text(byte[] buffer) => System.Text.Encoding.UTF8.GetString(buffer).TrimEnd('\0');
}
