using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using ScoringPlatform.Messaging;
using ScoringPlatform.ServiceDefaults;
using ScoringPlatform.TestSupport;

namespace ScoringPlatform.Platform.IntegrationTests;

public sealed class ReadinessTests
{
    [Theory]
    [InlineData(HealthStatus.Healthy, HttpStatusCode.OK)]
    [InlineData(HealthStatus.Degraded, HttpStatusCode.ServiceUnavailable)]
    [InlineData(HealthStatus.Unhealthy, HttpStatusCode.ServiceUnavailable)]
    public async Task Readiness_is_503_unless_every_check_is_healthy_and_liveness_ignores_them(HealthStatus status, HttpStatusCode expected)
    {
        var builder = WebApplication.CreateBuilder();
        builder.WebHost.UseTestServer();
        builder.Services.AddHealthChecks()
            .AddCheck("self", () => HealthCheckResult.Healthy(), [ServiceDefaultsExtensions.LiveTag])
            .AddCheck("ingestion", () => new HealthCheckResult(status, "why"));
        await using var app = builder.Build();
        app.MapDefaultEndpoints();
        await app.StartAsync();
        using var client = app.GetTestClient();

        var ready = await client.GetAsync("/health/ready");
        var live = await client.GetAsync("/health/live");

        ready.StatusCode.Should().Be(expected);
        (await ready.Content.ReadAsStringAsync()).Should().Contain(status.ToString());
        live.StatusCode.Should().Be(HttpStatusCode.OK);
    }

    [Fact]
    public async Task The_Kafka_readiness_check_is_one_instance_for_every_probe_and_answers_healthy_against_a_real_broker()
    {
        // HealthCheckService builds each check through its registration's factory, per probe and in a new scope. The
        // Kafka check owns a librdkafka admin client; built per probe (and never disposed), it leaked one client a probe.
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration["Kafka:BootstrapServers"] = TestEnvironment.KafkaBootstrap;
        builder.AddKafka();
        using var host = builder.Build();
        var registration = host.Services.GetRequiredService<IOptions<HealthCheckServiceOptions>>().Value.Registrations
            .Single(r => r.Name == KafkaExtensions.ReadinessCheck);

        using var first = host.Services.CreateScope();
        using var second = host.Services.CreateScope();
        registration.Factory(second.ServiceProvider).Should().BeSameAs(registration.Factory(first.ServiceProvider));

        var health = host.Services.GetRequiredService<HealthCheckService>();
        var reports = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => health.CheckHealthAsync()));
        reports.Should().OnlyContain(r => r.Entries[KafkaExtensions.ReadinessCheck].Status == HealthStatus.Healthy);
    }
}
