using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Grpc.Core;
using Grpc.Health.V1;
using Grpc.Reflection.V1Alpha;
using ScoringPlatform.Api.V1;

namespace ScoringPlatform.Platform.IntegrationTests.Auth;

/// <summary>
/// "Every door has a key": the Api over real sockets refuses calls without a valid key (gRPC UNAUTHENTICATED, REST 401
/// problem JSON), refuses a key without the operation's scope (PERMISSION_DENIED / 403 naming the scope), limits each
/// key's rate (RESOURCE_EXHAUSTED / 429 with Retry-After) and the size of what it reads (RESOURCE_EXHAUSTED / 413),
/// and leaves health, Swagger and grpc.health.v1 open.
/// </summary>
public sealed class ApiAuthTests(AuthApiFixture fx) : IClassFixture<AuthApiFixture>
{
    private static async Task<RpcException> Refused(Func<Task> call, StatusCode code)
    {
        var error = (await call.Should().ThrowAsync<RpcException>()).Which;
        error.StatusCode.Should().Be(code, error.Status.Detail);
        return error;
    }

    private static async Task<JsonElement> ProblemAsync(HttpResponseMessage response, HttpStatusCode status)
    {
        var body = await response.Content.ReadAsStringAsync();
        response.StatusCode.Should().Be(status, body);
        response.Content.Headers.ContentType!.MediaType.Should().Be("application/problem+json");
        using var json = JsonDocument.Parse(body);
        json.RootElement.GetProperty("status").GetInt32().Should().Be((int)status);
        return json.RootElement.Clone();
    }

    private static HttpRequestMessage Get(string path, string? bearer = null, string? apiKeyHeader = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, path);
        if (bearer is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
        if (apiKeyHeader is not null) request.Headers.Add("x-api-key", apiKeyHeader);
        return request;
    }

    private static HttpRequestMessage Feedback(string lead, string key, HttpContent? content = null) => new(HttpMethod.Post, $"/v1/leads/{lead}/feedback")
    {
        Headers = { Authorization = new AuthenticationHeaderValue("Bearer", key) },
        Content = content ?? new StringContent("""{"action":"SALES_ACTION_TYPE_ACCEPT","actor":"rep","idempotencyKey":"k-1"}""", Encoding.UTF8, "application/json"),
    };

    private static RecordSalesFeedbackRequest FeedbackRequest(string actor = "rep") =>
        new() { LeadId = "lead-auth", Action = SalesActionType.Accept, Actor = actor, IdempotencyKey = "k-1" };

    [Fact]
    public async Task Without_a_key_every_service_is_UNAUTHENTICATED_over_gRPC_and_401_problem_json_with_WWW_Authenticate_over_REST()
    {
        var channel = fx.Grpc(key: null);

        var verdict = await Refused(() => new LeadScoring.LeadScoringClient(channel).GetVerdictAsync(new GetVerdictRequest { LeadId = "lead-auth" }).ResponseAsync, StatusCode.Unauthenticated);
        await Refused(() => new LeadQueries.LeadQueriesClient(channel).ListLeadsAsync(new ListLeadsRequest()).ResponseAsync, StatusCode.Unauthenticated);
        await Refused(() => new SalesFeedback.SalesFeedbackClient(channel).RecordSalesFeedbackAsync(FeedbackRequest()).ResponseAsync, StatusCode.Unauthenticated);
        verdict.Status.Detail.Should().Contain("API key is required");

        foreach (var path in new[] { "/v1/leads/lead-auth/verdict", "/v1/leads", "/v1/leads/lead-auth/timeline" })
        {
            using var response = await fx.Rest().SendAsync(Get(path));
            var problem = await ProblemAsync(response, HttpStatusCode.Unauthorized);
            response.Headers.WwwAuthenticate.Should().ContainSingle().Which.Scheme.Should().Be("Bearer");
            problem.GetProperty("detail").GetString().Should().Contain("Authorization: Bearer");
        }
    }

    [Fact]
    public async Task A_wrong_key_is_refused_the_same_way_as_invalid_token_and_counted()
    {
        using var failures = new CounterProbe("scoring.api.auth.failures", "reason");

        var error = await Refused(() => new LeadScoring.LeadScoringClient(fx.Grpc("not-a-configured-key-000000")).GetVerdictAsync(new GetVerdictRequest { LeadId = "lead-auth" }).ResponseAsync,
            StatusCode.Unauthenticated);
        using var byHeader = await fx.Rest().SendAsync(Get("/v1/leads/lead-auth/verdict", apiKeyHeader: "not-a-configured-key-000000"));
        // The hash of a key is not the key: presenting the configured digest itself is refused too.
        using var byDigest = await fx.Rest().SendAsync(Get("/v1/leads/lead-auth/verdict", bearer: AuthApiFixture.Sha256Hex(AuthApiFixture.ReaderKey)));

        error.Status.Detail.Should().Contain("not known");
        foreach (var response in new[] { byHeader, byDigest })
        {
            (await ProblemAsync(response, HttpStatusCode.Unauthorized)).GetProperty("detail").GetString().Should().Contain("not known");
            response.Headers.WwwAuthenticate.Single().ToString().Should().StartWith("Bearer error=\"invalid_token\"");
        }

        failures["invalid_key"].Should().Be(3);
    }

    [Fact]
    public async Task A_read_only_key_calling_SalesFeedback_is_PERMISSION_DENIED_over_gRPC_and_403_over_REST_naming_the_scope()
    {
        using var failures = new CounterProbe("scoring.api.auth.failures", "scope");

        var error = await Refused(() => new SalesFeedback.SalesFeedbackClient(fx.Grpc(AuthApiFixture.ReaderKey)).RecordSalesFeedbackAsync(FeedbackRequest()).ResponseAsync,
            StatusCode.PermissionDenied);
        using var response = await fx.Rest().SendAsync(Feedback("lead-auth", AuthApiFixture.ReaderKey));

        error.Status.Detail.Should().Contain("'reader'").And.Contain("feedback:write");
        var problem = await ProblemAsync(response, HttpStatusCode.Forbidden);
        problem.GetProperty("detail").GetString().Should().Contain("feedback:write");
        problem.GetProperty("requiredScope").GetString().Should().Be("feedback:write");
        failures["feedback:write"].Should().Be(2);
    }

    [Fact]
    public async Task The_right_key_reaches_each_service_over_gRPC_and_REST_by_bearer_or_x_api_key_including_a_key_configured_by_its_hash()
    {
        // The reader key is configured as a SHA-256 digest only; it has verdicts:read and leads:read.
        var reader = fx.Grpc(AuthApiFixture.ReaderKey);
        var listed = await new LeadQueries.LeadQueriesClient(reader).ListLeadsAsync(new ListLeadsRequest());
        await Refused(() => new LeadScoring.LeadScoringClient(reader).GetVerdictAsync(new GetVerdictRequest { LeadId = "lead-auth" }).ResponseAsync,
            StatusCode.NotFound);
        // The operator key ('*') passes SalesFeedback's check; the service itself answers (no such lead).
        await Refused(() => new SalesFeedback.SalesFeedbackClient(fx.Grpc(AuthApiFixture.OperatorKey)).RecordSalesFeedbackAsync(FeedbackRequest()).ResponseAsync,
            StatusCode.NotFound);

        using var byHeader = await fx.Rest().SendAsync(Get("/v1/leads", apiKeyHeader: AuthApiFixture.ReaderKey));
        using var byBearer = await fx.Rest().SendAsync(Get("/v1/leads/lead-auth/verdict", bearer: AuthApiFixture.OperatorKey));
        using var feedback = await fx.Rest().SendAsync(Feedback("lead-auth", AuthApiFixture.OperatorKey));

        listed.Leads.Should().BeEmpty();
        byHeader.StatusCode.Should().Be(HttpStatusCode.OK, await byHeader.Content.ReadAsStringAsync());
        (await ProblemAsync(byBearer, HttpStatusCode.NotFound)).GetProperty("grpcStatus").GetString().Should().Be("NotFound");
        (await ProblemAsync(feedback, HttpStatusCode.NotFound)).GetProperty("grpcStatus").GetString().Should().Be("NotFound");
    }

    [Fact]
    public async Task Health_Swagger_and_grpc_health_answer_without_a_key_and_reflection_wants_one_outside_Development()
    {
        var rest = fx.Rest();
        foreach (var path in new[] { "/health/live", "/health/ready", "/swagger/index.html" })
        {
            using var response = await rest.GetAsync(path);
            response.StatusCode.Should().Be(HttpStatusCode.OK, path);
        }

        using var document = JsonDocument.Parse(await rest.GetStringAsync("/swagger/v1/swagger.json"));
        var scheme = document.RootElement.GetProperty("components").GetProperty("securitySchemes").GetProperty("ApiKey");
        scheme.GetProperty("type").GetString().Should().Be("http");
        scheme.GetProperty("scheme").GetString().Should().Be("bearer");
        document.RootElement.GetProperty("security")[0].TryGetProperty("ApiKey", out _).Should().BeTrue("every operation needs the key");
        var feedback = document.RootElement.GetProperty("paths").GetProperty("/v1/leads/{lead_id}/feedback").GetProperty("post");
        feedback.GetProperty("description").GetString().Should().Contain("feedback:write");
        feedback.GetProperty("responses").EnumerateObject().Select(r => r.Name).Should().Contain(["401", "403", "413", "429"]);

        var health = await new Health.HealthClient(fx.Grpc(key: null)).CheckAsync(new HealthCheckRequest());
        health.Status.Should().Be(HealthCheckResponse.Types.ServingStatus.Serving);

        await Refused(() => ListServicesAsync(fx.Grpc(key: null)), StatusCode.Unauthenticated);
        (await ListServicesAsync(fx.Grpc(AuthApiFixture.ReaderKey))).Should().Contain("scoringplatform.v1.SalesFeedback");
    }

    private static async Task<List<string>> ListServicesAsync(Grpc.Net.Client.GrpcChannel channel)
    {
        using var call = new ServerReflection.ServerReflectionClient(channel).ServerReflectionInfo();
        await call.RequestStream.WriteAsync(new ServerReflectionRequest { ListServices = "" });
        await call.RequestStream.CompleteAsync();
        (await call.ResponseStream.MoveNext(CancellationToken.None)).Should().BeTrue();
        return call.ResponseStream.Current.ListServicesResponse.Service.Select(s => s.Name).ToList();
    }

    [Fact]
    public async Task A_key_over_its_rate_limit_gets_RESOURCE_EXHAUSTED_and_429_with_Retry_After_while_another_key_is_not_throttled()
    {
        using var rejections = new CounterProbe("scoring.rate_limit.rejections", "caller");
        var tiny = new LeadScoring.LeadScoringClient(fx.Grpc(AuthApiFixture.TinyKey));
        var request = new GetVerdictRequest { LeadId = "lead-auth" };

        // The bucket holds TinyBurst tokens and refills one in 1,000 s: the calls after the burst find it empty.
        var outcomes = new List<StatusCode>();
        RpcException? exhausted = null;
        for (var i = 0; i < AuthApiFixture.TinyBurst + 1; i++)
        {
            try
            {
                await tiny.GetVerdictAsync(request);
                outcomes.Add(StatusCode.OK);
            }
            catch (RpcException e)
            {
                outcomes.Add(e.StatusCode);
                if (e.StatusCode == StatusCode.ResourceExhausted) exhausted = e;
            }
        }

        using var restTiny = await fx.Rest().SendAsync(Get("/v1/leads/lead-auth/verdict", bearer: AuthApiFixture.TinyKey));
        using var restOperator = await fx.Rest().SendAsync(Get("/v1/leads/lead-auth/verdict", bearer: AuthApiFixture.OperatorKey));
        await Refused(() => new LeadScoring.LeadScoringClient(fx.Grpc(AuthApiFixture.OperatorKey)).GetVerdictAsync(request).ResponseAsync, StatusCode.NotFound);

        outcomes.Should().Equal([.. Enumerable.Repeat(StatusCode.NotFound, AuthApiFixture.TinyBurst), StatusCode.ResourceExhausted]);
        exhausted!.Status.Detail.Should().Contain("'tiny'");
        int.Parse(exhausted.Trailers.GetValue("retry-after")!, System.Globalization.CultureInfo.InvariantCulture).Should().BeGreaterThan(0);

        var problem = await ProblemAsync(restTiny, HttpStatusCode.TooManyRequests);
        problem.GetProperty("detail").GetString().Should().Contain("rate limit");
        restTiny.Headers.RetryAfter!.Delta!.Value.TotalSeconds.Should().BeGreaterThan(0);
        (await ProblemAsync(restOperator, HttpStatusCode.NotFound)).GetProperty("grpcStatus").GetString().Should().Be("NotFound", "the operator's bucket is its own");
        rejections["tiny"].Should().Be(2);
        rejections["operator"].Should().Be(0);
    }

    [Fact]
    public async Task A_body_over_the_limit_is_413_problem_json_over_REST_and_a_message_over_it_RESOURCE_EXHAUSTED_over_gRPC()
    {
        var tooLong = new string('a', AuthApiFixture.BodyLimit + 1);
        var json = $$"""{"action":"SALES_ACTION_TYPE_ACCEPT","actor":"{{tooLong}}","idempotencyKey":"k-1"}""";

        using var sized = await fx.Rest().SendAsync(Feedback("lead-auth", AuthApiFixture.OperatorKey, new StringContent(json, Encoding.UTF8, "application/json")));
        var chunkedContent = new StreamContent(new MemoryStream(Encoding.UTF8.GetBytes(json)));
        chunkedContent.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        var chunkedRequest = Feedback("lead-auth", AuthApiFixture.OperatorKey, chunkedContent);
        chunkedRequest.Headers.TransferEncodingChunked = true;
        using var chunked = await fx.Rest().SendAsync(chunkedRequest);

        var feedback = new SalesFeedback.SalesFeedbackClient(fx.Grpc(AuthApiFixture.OperatorKey));
        var overLimit = await Refused(() => feedback.RecordSalesFeedbackAsync(FeedbackRequest(actor: tooLong)).ResponseAsync, StatusCode.ResourceExhausted);
        // Far over it too: Kestrel's body limit must not race grpc-dotnet's check (it would answer UNKNOWN).
        await Refused(() => feedback.RecordSalesFeedbackAsync(FeedbackRequest(actor: new string('a', AuthApiFixture.BodyLimit * 16))).ResponseAsync, StatusCode.ResourceExhausted);
        // Under the limit the same call reaches the service, which refuses the actor's length for itself.
        await Refused(() => feedback.RecordSalesFeedbackAsync(FeedbackRequest(actor: new string('a', 1000))).ResponseAsync, StatusCode.InvalidArgument);

        foreach (var response in new[] { sized, chunked })
        {
            var problem = await ProblemAsync(response, HttpStatusCode.RequestEntityTooLarge);
            problem.GetProperty("detail").GetString().Should().Contain(AuthApiFixture.BodyLimit.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }

        overLimit.Status.Detail.Should().Contain("exceeds the maximum");
    }
}
