using System.Text;
using System.Text.Json;
using Confluent.Kafka;
using ScoringPlatform.Contracts;

namespace ScoringPlatform.TestSupport;

/// <summary>Plain Confluent.Kafka clients, as any producer or consumer of the platform would use them.</summary>
public sealed class KafkaTestClient : IDisposable
{
    private readonly IProducer<string, byte[]> _producer;

    public KafkaTestClient(string bootstrap)
    {
        Bootstrap = bootstrap;
        _producer = new ProducerBuilder<string, byte[]>(new ProducerConfig
        {
            BootstrapServers = bootstrap,
            EnableIdempotence = true,
            Acks = Acks.All,
            LingerMs = 2,
        }).Build();
    }

    public string Bootstrap { get; }

    public Task<TopicPartitionOffset> ProduceAsync(string topic, string key, EngagementEvent evt, string? traceParent = null) =>
        ProduceRawAsync(topic, key, JsonSerializer.SerializeToUtf8Bytes(evt, ContractJson.Options), traceParent);

    /// <summary>Produces one message and returns where it was written.</summary>
    public async Task<TopicPartitionOffset> ProduceRawAsync(string topic, string key, byte[] value, string? traceParent = null)
    {
        var headers = new Confluent.Kafka.Headers();
        if (traceParent is not null) headers.Add(Contracts.Headers.TraceParent, Encoding.UTF8.GetBytes(traceParent));
        var result = await _producer.ProduceAsync(topic, new Message<string, byte[]> { Key = key, Value = value, Headers = headers });
        return result.TopicPartitionOffset;
    }

    /// <summary>The offset a new consumer of <paramref name="group"/> starts from on <paramref name="partition"/> (its committed offset).</summary>
    public Offset Committed(string group, TopicPartition partition)
    {
        using var consumer = new ConsumerBuilder<string, byte[]>(new ConsumerConfig
        {
            BootstrapServers = Bootstrap,
            GroupId = group,
            EnableAutoCommit = false,
        }).Build();
        return consumer.Committed([partition], TimeSpan.FromSeconds(10)).Single().Offset;
    }

    /// <summary>Reads <paramref name="topic"/> from the beginning until <paramref name="done"/> holds for the matches seen, or the timeout.</summary>
    public List<ConsumeResult<string, byte[]>> ConsumeUntil(
        string topic, Func<ConsumeResult<string, byte[]>, bool> match, Func<IReadOnlyList<ConsumeResult<string, byte[]>>, bool> done,
        TimeSpan timeout)
    {
        using var consumer = new ConsumerBuilder<string, byte[]>(new ConsumerConfig
        {
            BootstrapServers = Bootstrap,
            GroupId = "test-reader-" + Guid.NewGuid().ToString("N"),
            AutoOffsetReset = AutoOffsetReset.Earliest,
            EnableAutoCommit = false,
        }).Build();
        consumer.Subscribe(topic);
        var found = new List<ConsumeResult<string, byte[]>>();
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline && !done(found))
        {
            var result = consumer.Consume(TimeSpan.FromMilliseconds(200));
            if (result is not null && match(result)) found.Add(result);
        }

        consumer.Close();
        return found;
    }

    public static string? Header(ConsumeResult<string, byte[]> result, string name) =>
        result.Message.Headers is { } h && h.TryGetLastBytes(name, out var bytes) ? Encoding.UTF8.GetString(bytes) : null;

    public void Dispose()
    {
        _producer.Flush(TimeSpan.FromSeconds(5));
        _producer.Dispose();
    }
}

public static class Events
{
    private static int _counter;

    public static EngagementEvent Engagement(string leadId, string type, DateTimeOffset at, string? category = null, string? id = null)
    {
        var properties = new Dictionary<string, JsonElement>();
        if (category is not null)
        {
            properties[type == EngagementEventTypes.FormSubmitted ? "formType" : "category"] = JsonSerializer.SerializeToElement(category);
        }

        return new EngagementEvent
        {
            Id = id ?? $"{leadId}-{Interlocked.Increment(ref _counter)}-{Guid.NewGuid():N}",
            Type = type,
            LeadId = leadId,
            OccurredAt = at,
            Source = "tests",
            Properties = properties,
        };
    }

    public static EngagementEvent Profile(string leadId, DateTimeOffset at, LeadTraits traits) => new()
    {
        Id = $"{leadId}-profile-{Guid.NewGuid():N}",
        Type = EngagementEventTypes.ProfileUpdated,
        LeadId = leadId,
        OccurredAt = at,
        Source = "tests",
        Traits = traits,
    };

    /// <summary>A fit lead (target title, size, industry, country): fit 40 in the default model.</summary>
    public static LeadTraits FitTraits => new()
    {
        Email = "cto@acme-industries.com",
        JobTitle = "CTO",
        CompanySize = 400,
        Industry = "software",
        Country = "US",
    };
}

public static class Eventually
{
    /// <summary>
    /// Waits until <c>/health/ready</c> answers 2xx on <paramref name="http"/>: a service is not ready at once (the Api
    /// loads its verdict cache first), and a test that means the ready service must wait as an orchestrator would.
    /// </summary>
    public static Task Ready(HttpClient http, TimeSpan timeout) => Get(async () =>
    {
        using var response = await http.GetAsync("/health/ready");
        return response.IsSuccessStatusCode ? "ready" : null;
    }, _ => true, timeout, $"{http.BaseAddress}health/ready to answer 2xx");

    public static async Task<T> Get<T>(Func<Task<T?>> probe, Func<T, bool> until, TimeSpan timeout, string what)
    {
        var deadline = DateTime.UtcNow + timeout;
        T? last = default;
        Exception? lastError = null;
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                last = await probe();
                if (last is not null && until(last)) return last;
            }
            catch (Exception ex)
            {
                lastError = ex;
            }

            await Task.Delay(200);
        }

        throw new TimeoutException($"Timed out after {timeout.TotalSeconds:0}s waiting for {what}; last value: {last}", lastError);
    }
}
