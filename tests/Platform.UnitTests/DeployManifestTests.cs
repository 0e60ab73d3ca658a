using ScoringPlatform.TestSupport;
using YamlDotNet.RepresentationModel;

namespace ScoringPlatform.Platform.UnitTests;

/// <summary>deploy/ cannot be run here (no Docker engine): these checks keep it parseable and consistent with the services.</summary>
public class DeployManifestTests
{
    private static readonly string Deploy = Path.Combine(TestEnvironment.RepositoryRoot, "deploy");
    private static readonly string[] Services = ["Ingestion", "Projections", "Api"];

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

        deployments.Select(d => ((YamlScalarNode)At(d, "metadata", "name")).Value).Should().BeEquivalentTo(["ingestion", "projections", "api"]);
        foreach (var d in deployments)
        {
            var container = (YamlMappingNode)((YamlSequenceNode)At(d, "spec", "template", "spec", "containers")).Children[0];
            container.Children.Keys.Select(k => ((YamlScalarNode)k).Value).Should().Contain(["readinessProbe", "livenessProbe", "envFrom", "env"]);
        }
    }

    [Fact]
    public void The_config_map_and_secret_provide_the_settings_the_services_require()
    {
        var docs = Documents(Path.Combine(Deploy, "k8s", "config.yaml"));
        var keys = docs.Where(d => d.Children.ContainsKey(new YamlScalarNode("data")) || d.Children.ContainsKey(new YamlScalarNode("stringData")))
            .SelectMany(d => ((YamlMappingNode)(d.Children.TryGetValue(new YamlScalarNode("data"), out var data) ? data : At(d, "stringData"))).Children.Keys)
            .Select(k => ((YamlScalarNode)k).Value).ToList();
        keys.Should().Contain(["ConnectionStrings__EventStore", "Kafka__BootstrapServers", "EventStore__Schema"]);
    }

    [Fact]
    public void The_compose_file_runs_each_service_against_real_postgres_and_kafka()
    {
        var compose = Documents(Path.Combine(Deploy, "compose.yaml"))[0];
        var services = (YamlMappingNode)At(compose, "services");
        services.Children.Keys.Select(k => ((YamlScalarNode)k).Value).Should().Contain(["postgres", "kafka", "ingestion", "projections", "api"]);
        foreach (var name in new[] { "ingestion", "projections", "api" })
        {
            var args = (YamlScalarNode)At(services, name, "build", "args", "SERVICE");
            Services.Should().Contain(args.Value);
            File.Exists(Path.Combine(TestEnvironment.RepositoryRoot, "services", args.Value!, $"ScoringPlatform.{args.Value}.csproj")).Should().BeTrue();
        }
    }
}
