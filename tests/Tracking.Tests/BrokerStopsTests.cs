using System.Diagnostics;
using System.Net;
using Confluent.Kafka;
using ScoringPlatform.TestSupport;

namespace ScoringPlatform.Tracking.Tests;

/// <summary>
/// A service on a private dev broker (its own process, one broker) that the test kills while the service runs: the
/// outage a deployment meets, after the producer had connected.
/// </summary>
public sealed class PrivateBrokerTrackingService : TrackingService
{
    private readonly string _bootstrapFile = Path.Combine(Path.GetTempPath(), $"tracking-broker-{Guid.NewGuid():N}.bootstrap");
    private System.Diagnostics.Process? _broker;
    private string _bootstrap = "";

    protected override string ServiceBootstrap => _bootstrap;

    public string BrokerBootstrap => _bootstrap;

    protected override Dictionary<string, string> Settings() => new() { ["Tracking__DeliveryTimeout"] = "00:00:02" };

    public override async Task InitializeAsync()
    {
        var dll = Path.Combine(TestEnvironment.RepositoryRoot, "tools", "DevBroker", "bin", TestEnvironment.Configuration, "net10.0", "DevBroker.dll");
        var info = new ProcessStartInfo("dotnet", [dll, "--brokers", "1", "--topics", $"{Topic}:3", "--bootstrap-file", _bootstrapFile])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        _broker = System.Diagnostics.Process.Start(info)!;
        _broker.OutputDataReceived += (_, _) => { };
        _broker.ErrorDataReceived += (_, _) => { };
        _broker.BeginOutputReadLine();
        _broker.BeginErrorReadLine();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (!(File.Exists(_bootstrapFile) && (_bootstrap = (await File.ReadAllTextAsync(_bootstrapFile)).Trim()).Length > 0))
        {
            if (_broker.HasExited || DateTime.UtcNow > deadline) throw new InvalidOperationException($"the private dev broker did not start ({dll})");
            await Task.Delay(100);
        }

        await base.InitializeAsync();
    }

    /// <summary>SIGKILL: the broker is gone at once, with whatever it held.</summary>
    public async Task KillBrokerAsync()
    {
        _broker!.Kill();
        await _broker.WaitForExitAsync();
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        if (_broker is { HasExited: false }) await KillBrokerAsync();
        _broker?.Dispose();
        File.Delete(_bootstrapFile);
    }
}

public class BrokerStopsTests(PrivateBrokerTrackingService service) : IClassFixture<PrivateBrokerTrackingService>
{
    [Fact]
    public async Task When_the_broker_dies_under_a_running_service_requests_answer_503_with_Retry_After_instead_of_hanging()
    {
        var lead = TestEnvironment.Unique("lead");
        var delivered = TestEnvironment.Unique("up");
        using var before = await service.PostAsync("/v1/track", new { userId = lead, @event = "Trial Started", messageId = delivered });
        before.StatusCode.Should().Be(HttpStatusCode.OK, "the broker is up");
        using (var reader = new KafkaTestClient(service.BrokerBootstrap))
        {
            reader.ConsumeUntil(service.Topic, r => r.Message.Key == lead, seen => seen.Count > 0, TimeSpan.FromSeconds(30)).Should().ContainSingle();
        }

        await service.KillBrokerAsync();
        using var during = await service.PostAsync("/v1/batch", new
        {
            batch = new[] { new { type = "track", userId = lead, @event = "Demo Requested", messageId = TestEnvironment.Unique("down") } },
        });

        during.StatusCode.Should().Be(HttpStatusCode.ServiceUnavailable, await during.Content.ReadAsStringAsync());
        during.Headers.RetryAfter!.Delta.Should().Be(TimeSpan.FromSeconds(5));
    }
}
