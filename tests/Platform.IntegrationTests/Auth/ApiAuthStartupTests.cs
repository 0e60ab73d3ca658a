using System.Net;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using ScoringPlatform.TestSupport;

namespace ScoringPlatform.Platform.IntegrationTests.Auth;

/// <summary>The Api never runs open by accident: without keys it starts only in Development or with Auth:Disabled=true.</summary>
public sealed class ApiAuthStartupTests
{
    private sealed class BareApi(string environment, string schema, params (string Key, string Value)[] settings)
        : WebApplicationFactory<Api.Verdicts.LeadScoringService>
    {
        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            builder.UseEnvironment(environment);
            builder.UseSetting("ConnectionStrings:EventStore", TestEnvironment.PostgresConnectionString);
            builder.UseSetting("EventStore:Schema", schema);
            foreach (var (key, value) in settings) builder.UseSetting(key, value);
        }
    }

    private static string StartFailure(BareApi api)
    {
        var start = () => api.Server;
        var error = start.Should().Throw<Exception>().Which;
        return string.Join(" | ", Chain(error).Select(e => e.Message));

        static IEnumerable<Exception> Chain(Exception? e)
        {
            for (; e is not null; e = e.InnerException) yield return e;
        }
    }

    [Theory]
    [InlineData("Production")]
    [InlineData("Staging")]
    public async Task Outside_Development_without_keys_the_Api_refuses_to_start_and_says_how_to_fix_it(string environment)
    {
        await using var api = new BareApi(environment, TestEnvironment.UniqueSchema("itauth"));

        var message = StartFailure(api);

        message.Should().Contain("No API keys are configured").And.Contain(environment).And.Contain("Auth:Disabled=true");
    }

    [Fact]
    public async Task A_malformed_key_entry_refuses_the_start_naming_the_entry_but_never_the_key()
    {
        const string shortKey = "too-short-key";
        await using var api = new BareApi("Production", TestEnvironment.UniqueSchema("itauth"),
            ("Auth:ApiKeys:0:Name", "crm"), ("Auth:ApiKeys:0:KeyHash", "not-a-digest"), ("Auth:ApiKeys:0:Scopes:0", "verdicts:read"),
            ("Auth:ApiKeys:1:Name", "bi"), ("Auth:ApiKeys:1:Key", shortKey), ("Auth:ApiKeys:1:Scopes:0", "leads:write"));

        var message = StartFailure(api);

        message.Should().Contain("Auth:ApiKeys:0 ('crm'): KeyHash must be a SHA-256 digest")
            .And.Contain("Auth:ApiKeys:1 ('bi'): Key must be at least 16 characters")
            .And.Contain("unknown scope 'leads:write'")
            .And.NotContain(shortKey);
    }

    [Theory]
    [InlineData("Production", "true")]
    [InlineData("Development", null)]
    public async Task Without_keys_the_Api_runs_open_only_when_disabled_explicitly_or_in_Development(string environment, string? disabled)
    {
        var schema = TestEnvironment.UniqueSchema("itauth");
        try
        {
            await using var api = new BareApi(environment, schema, disabled is null ? [] : [("Auth:Disabled", disabled)]);
            using var http = api.CreateClient();

            using var response = await http.GetAsync("/v1/leads");

            response.StatusCode.Should().Be(HttpStatusCode.OK, await response.Content.ReadAsStringAsync());
        }
        finally
        {
            await TestEnvironment.DropSchemaAsync(schema);
        }
    }
}
