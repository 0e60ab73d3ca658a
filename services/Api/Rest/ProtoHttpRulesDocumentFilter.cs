using System.Text.RegularExpressions;
using Google.Api;
using Google.Protobuf.Reflection;
using Microsoft.OpenApi;
using Swashbuckle.AspNetCore.SwaggerGen;

namespace ScoringPlatform.Api.Rest;

/// <summary>
/// Describes the transcoded REST routes in Swagger from the proto contract itself (the google.api.http
/// rules), because the Grpc.Swagger package is not available here. Paths, parameters and error
/// responses come from the descriptor, so they cannot drift from the gRPC contract.
/// </summary>
public sealed partial class ProtoHttpRulesDocumentFilter : IDocumentFilter
{
    private static readonly Google.Protobuf.Reflection.ServiceDescriptor[] Services = [V1.LeadScoring.Descriptor, V1.SalesFeedback.Descriptor, V1.LeadQueries.Descriptor];

    // The scope each service needs, read from its implementation's [Authorize] so the document cannot disagree with it.
    private static readonly Dictionary<string, string?> ScopeOf = new()
    {
        [V1.LeadScoring.Descriptor.FullName] = PolicyOf(typeof(Verdicts.LeadScoringService)),
        [V1.SalesFeedback.Descriptor.FullName] = PolicyOf(typeof(Feedback.SalesFeedbackService)),
        [V1.LeadQueries.Descriptor.FullName] = PolicyOf(typeof(Queries.LeadQueriesService)),
    };

    private static string? PolicyOf(Type service) =>
        service.GetCustomAttributes(typeof(Microsoft.AspNetCore.Authorization.AuthorizeAttribute), true)
            .Cast<Microsoft.AspNetCore.Authorization.AuthorizeAttribute>().FirstOrDefault()?.Policy;

    public void Apply(OpenApiDocument swaggerDoc, DocumentFilterContext context)
    {
        swaggerDoc.Paths ??= new OpenApiPaths();
        foreach (var service in Services)
        {
            foreach (var method in service.Methods)
            {
                var rule = method.GetOptions()?.GetExtension(AnnotationsExtensions.Http);
                if (rule is null) continue;
                var (verb, template) = rule.PatternCase switch
                {
                    HttpRule.PatternOneofCase.Get => (HttpMethod.Get, rule.Get),
                    HttpRule.PatternOneofCase.Post => (HttpMethod.Post, rule.Post),
                    HttpRule.PatternOneofCase.Put => (HttpMethod.Put, rule.Put),
                    HttpRule.PatternOneofCase.Delete => (HttpMethod.Delete, rule.Delete),
                    HttpRule.PatternOneofCase.Patch => (HttpMethod.Patch, rule.Patch),
                    _ => (null, null),
                };
                if (verb is null || template is null) continue;

                var routeFields = RouteParameter().Matches(template).Select(m => m.Groups[1].Value).ToHashSet();
                var scope = ScopeOf.GetValueOrDefault(service.FullName);
                var operation = new OpenApiOperation
                {
                    OperationId = method.Name,
                    Summary = $"{service.Name}.{method.Name} (gRPC: {service.FullName}/{method.Name})",
                    Description = scope is null ? null : $"Needs an API key with the scope `{scope}` (or `*`).",
                    Tags = new HashSet<OpenApiTagReference> { new(service.Name, swaggerDoc) },
                    Parameters = [],
                    Responses = new OpenApiResponses
                    {
                        ["200"] = JsonResponse($"{method.OutputType.Name} (JSON mapping of {method.OutputType.FullName})"),
                        ["400"] = ProblemResponse("Invalid argument (gRPC INVALID_ARGUMENT)"),
                        ["404"] = ProblemResponse("Not found (gRPC NOT_FOUND)"),
                        ["409"] = ProblemResponse("Conflict with the lead's current state (gRPC FAILED_PRECONDITION)"),
                        ["401"] = ProblemResponse("No API key, or an unknown one (gRPC UNAUTHENTICATED)"),
                        ["403"] = ProblemResponse($"The API key lacks the scope {scope} (gRPC PERMISSION_DENIED)"),
                        ["413"] = ProblemResponse("The request body is over RequestLimits:MaxRequestBodyBytes"),
                        ["429"] = ProblemResponse("The key's rate limit is exhausted; Retry-After says when to retry (gRPC RESOURCE_EXHAUSTED)"),
                    },
                };
                if (!string.IsNullOrEmpty(rule.Body))
                {
                    operation.RequestBody = new OpenApiRequestBody
                    {
                        Required = true,
                        Description = $"{method.InputType.Name} as JSON (proto3 JSON mapping; route fields come from the path)",
                        Content = new Dictionary<string, IOpenApiMediaType> { ["application/json"] = new OpenApiMediaType { Schema = new OpenApiSchema { Type = JsonSchemaType.Object } } },
                    };
                }

                foreach (var field in method.InputType.Fields.InFieldNumberOrder())
                {
                    var inRoute = routeFields.Contains(field.Name);
                    if (!inRoute && verb != HttpMethod.Get && verb != HttpMethod.Delete) continue;
                    operation.Parameters.Add(new OpenApiParameter
                    {
                        Name = inRoute ? field.Name : field.JsonName,
                        In = inRoute ? ParameterLocation.Path : ParameterLocation.Query,
                        Required = inRoute,
                        Schema = SchemaFor(field),
                    });
                }

                var path = RouteParameter().Replace(template, "{$1}");
                if (!swaggerDoc.Paths.TryGetValue(path, out var item))
                {
                    item = new OpenApiPathItem();
                    swaggerDoc.Paths[path] = item;
                }

                ((OpenApiPathItem)item).AddOperation(verb, operation);
            }
        }
    }

    private static OpenApiSchema SchemaFor(FieldDescriptor field) => field.FieldType switch
    {
        FieldType.Message when field.MessageType.FullName == "google.protobuf.Timestamp" =>
            new OpenApiSchema { Type = JsonSchemaType.String, Format = "date-time" },
        FieldType.Int32 or FieldType.Int64 or FieldType.UInt32 or FieldType.UInt64 => new OpenApiSchema { Type = JsonSchemaType.Integer },
        FieldType.Bool => new OpenApiSchema { Type = JsonSchemaType.Boolean },
        FieldType.Double or FieldType.Float => new OpenApiSchema { Type = JsonSchemaType.Number },
        _ => new OpenApiSchema { Type = JsonSchemaType.String },
    };

    private static OpenApiResponse JsonResponse(string description) => new()
    {
        Description = description,
        Content = new Dictionary<string, IOpenApiMediaType> { ["application/json"] = new OpenApiMediaType { Schema = new OpenApiSchema { Type = JsonSchemaType.Object } } },
    };

    private static OpenApiResponse ProblemResponse(string description) => new()
    {
        Description = description,
        Content = new Dictionary<string, IOpenApiMediaType> { ["application/problem+json"] = new OpenApiMediaType { Schema = new OpenApiSchema { Type = JsonSchemaType.Object } } },
    };

    // {field} or {field=pattern} in an http rule template.
    [GeneratedRegex(@"\{([a-zA-Z0-9_.]+)(?:=[^}]*)?\}")]
    private static partial Regex RouteParameter();
}
