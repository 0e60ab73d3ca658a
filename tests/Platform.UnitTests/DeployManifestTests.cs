using Microsoft.Extensions.Configuration;
using ScoringPlatform.TestSupport;
using YamlDotNet.RepresentationModel;

namespace ScoringPlatform.Platform.UnitTests;

/// <summary>deploy/ cannot be run here (no Docker engine): these checks keep it parseable and consistent with the services.</summary>
public class DeployManifestTests
{
    private static readonly string Deploy = Path.Combine(TestEnvironment.RepositoryRoot, "deploy");
    private static readonly string[] Services = ["Ingestion", "Projections", "Api", "Tracking"];

    /// <summary>The services that read the event store (Tracking only produces to Kafka).</summary>
    private static readonly string[] StoreServices = ["Ingestion", "Projections", "Api"];

    private static List<YamlMappingNode> Documents(string path)
    {
        var stream = new YamlStream();
        using var reader = new StreamReader(path);
        stream.Load(reader);
        return stream.Documents.Select(d => (YamlMappingNode)d.RootNode).ToList();
    }

    private static YamlNode At(YamlNode node, params string[] path) =>
        path.Aggregate(node, (n, key) => ((YamlMappingNode)n).Children[new YamlScalarNode(key)]);

    [Fact]
    public void Every_kubernetes_deployment_has_probes_and_the_platform_configuration()
    {
        var deployments = Directory.GetFiles(Path.Combine(Deploy, "k8s"), "*.yaml").SelectMany(Documents)
            .Where(d => ((YamlScalarNode)At(d, "kind")).Value == "Deployment").ToList();

        deployments.Select(d => ((YamlScalarNode)At(d, "metadata", "name")).Value).Should().BeEquivalentTo(["ingestion", "projections", "api", "tracking"]);
        foreach (var d in deployments)
        {
            var container = (YamlMappingNode)((YamlSequenceNode)At(d, "spec", "template", "spec", "containers")).Children[0];
            container.Children.Keys.Select(k => ((YamlScalarNode)k).Value).Should().Contain(["readinessProbe", "livenessProbe", "envFrom", "env"]);
        }
    }

    /// <summary>The environment a deployment's container gets: its envFrom config maps and secrets, then its env list.</summary>
    private static Dictionary<string, string?> EnvironmentOf(YamlMappingNode deployment, IReadOnlyList<YamlMappingNode> config)
    {
        var container = (YamlMappingNode)((YamlSequenceNode)At(deployment, "spec", "template", "spec", "containers")).Children[0];
        var env = new Dictionary<string, string?>();
        foreach (var source in ((YamlSequenceNode)At(container, "envFrom")).Children.Cast<YamlMappingNode>())
        {
            var (kind, dataKey) = source.Children.ContainsKey(new YamlScalarNode("configMapRef")) ? ("ConfigMap", "data") : ("Secret", "stringData");
            var name = ((YamlScalarNode)At(source, kind == "ConfigMap" ? "configMapRef" : "secretRef", "name")).Value;
            var doc = config.Single(d => ((YamlScalarNode)At(d, "kind")).Value == kind && ((YamlScalarNode)At(d, "metadata", "name")).Value == name);
            foreach (var (key, value) in ((YamlMappingNode)At(doc, dataKey)).Children) env[((YamlScalarNode)key).Value!] = ((YamlScalarNode)value).Value;
        }

        foreach (var item in ((YamlSequenceNode)At(container, "env")).Children.Cast<YamlMappingNode>())
        {
            env[((YamlScalarNode)At(item, "name")).Value!] = ((YamlScalarNode)At(item, "value")).Value;
        }

        return env;
    }

    [Fact]
    public void Each_deployment_gets_the_settings_of_the_dependencies_it_uses_and_only_the_ingestion_owns_the_schema()
    {
        var config = Documents(Path.Combine(Deploy, "k8s", "config.yaml"));
        var environments = Services.ToDictionary(s => s, s =>
            EnvironmentOf(Documents(Path.Combine(Deploy, "k8s", $"{s.ToLowerInvariant()}.yaml")).Single(d => ((YamlScalarNode)At(d, "kind")).Value == "Deployment"), config));

        foreach (var service in StoreServices)
        {
            environments[service].Keys.Should().Contain(["ConnectionStrings__EventStore", "EventStore__Schema"], service);
        }

        environments["Ingestion"].Keys.Should().Contain("Kafka__BootstrapServers");
        environments["Projections"].Keys.Should().Contain("Kafka__BootstrapServers");
        environments["Api"].Keys.Should().NotContain(k => k.StartsWith("Kafka__", StringComparison.Ordinal), "the api never talks to Kafka");
        environments.Where(e => e.Value.GetValueOrDefault("EventStore__ApplySchemaOnStart") != "false").Select(e => e.Key)
            .Where(StoreServices.Contains).Should().Equal(["Ingestion"], "one service owns the event store schema, the others wait for it");
        environments["Tracking"].Keys.Should().Contain(["Kafka__BootstrapServers", "Tracking__Sources__0__Name", "Tracking__Sources__0__WriteKeyHash"]);
        environments["Tracking"].Keys.Should().NotContain("ConnectionStrings__EventStore", "the tracking service never touches the event store");
        environments["Tracking"]["Tracking__Sources__0__WriteKeyHash"].Should().MatchRegex("^[0-9a-f]{64}$", "a write key is deployed as its SHA-256 only");
    }

    [Fact]
    public void The_api_gets_hashed_api_keys_from_a_secret_that_the_api_accepts_and_never_runs_open()
    {
        var config = Documents(Path.Combine(Deploy, "k8s", "config.yaml"));
        var deployment = Documents(Path.Combine(Deploy, "k8s", "api.yaml")).Single(d => ((YamlScalarNode)At(d, "kind")).Value == "Deployment");
        var env = EnvironmentOf(deployment, config);
        var container = (YamlMappingNode)((YamlSequenceNode)At(deployment, "spec", "template", "spec", "containers")).Children[0];
        var secrets = ((YamlSequenceNode)At(container, "envFrom")).Children.Cast<YamlMappingNode>()
            .Where(s => s.Children.ContainsKey(new YamlScalarNode("secretRef")))
            .Select(s => ((YamlScalarNode)At(s, "secretRef", "name")).Value).ToList();
        var keySecret = config.Single(d => ((YamlScalarNode)At(d, "kind")).Value == "Secret" &&
            ((YamlMappingNode)At(d, "stringData")).Children.Keys.Any(k => ((YamlScalarNode)k).Value!.StartsWith("Auth__", StringComparison.Ordinal)));

        secrets.Should().Contain(((YamlScalarNode)At(keySecret, "metadata", "name")).Value, "keys come from a Secret, not a ConfigMap");
        env.Keys.Should().NotContain(k => k.EndsWith("__Key", StringComparison.Ordinal), "only digests are deployed");
        env.Keys.Should().NotContain("Auth__Disabled");
        var options = new ConfigurationBuilder()
            .AddInMemoryCollection(env.Select(kv => new KeyValuePair<string, string?>(kv.Key.Replace("__", ":", StringComparison.Ordinal), kv.Value)))
            .Build().GetSection("Auth").Get<ScoringPlatform.Api.Auth.ApiAuthOptions>()!;
        options.ApiKeys.Should().NotBeEmpty();
        ScoringPlatform.Api.Auth.ApiKeyStore.Build(options.ApiKeys).Problems.Should().BeEmpty();
        options.ApiKeys.Should().OnlyContain(k => k.KeyHash != null && k.Key == null);
    }

    [Fact]
    public void The_compose_api_needs_a_key_digest_to_start()
    {
        var compose = Documents(Path.Combine(Deploy, "compose.yaml"))[0];
        var env = (YamlMappingNode)At(compose, "services", "api", "environment");
        ((YamlScalarNode)At(env, "Auth__ApiKeys__0__KeyHash")).Value.Should().StartWith("${SCORING_API_KEY_HASH:?", "compose refuses to start the api without it");
        env.Children.Keys.Select(k => ((YamlScalarNode)k).Value).Should().NotContain("Auth__Disabled");
    }

    [Fact]
    public void The_compose_file_runs_each_service_against_real_postgres_and_kafka()
    {
        var compose = Documents(Path.Combine(Deploy, "compose.yaml"))[0];
        var services = (YamlMappingNode)At(compose, "services");
        services.Children.Keys.Select(k => ((YamlScalarNode)k).Value).Should().Contain(["postgres", "kafka", "ingestion", "projections", "api", "tracking"]);
        foreach (var name in new[] { "ingestion", "projections", "api", "tracking" })
        {
            var args = (YamlScalarNode)At(services, name, "build", "args", "SERVICE");
            Services.Should().Contain(args.Value);
            File.Exists(Path.Combine(TestEnvironment.RepositoryRoot, "services", args.Value!, $"ScoringPlatform.{args.Value}.csproj")).Should().BeTrue();
        }
    }
}
