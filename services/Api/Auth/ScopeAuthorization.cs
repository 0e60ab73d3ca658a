using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Authorization.Policy;

namespace ScoringPlatform.Api.Auth;

/// <summary>The caller's key must grant <see cref="Scope"/> (or <c>*</c>).</summary>
public sealed record ScopeRequirement(string Scope) : IAuthorizationRequirement;

public sealed class ScopeAuthorizationHandler : AuthorizationHandler<ScopeRequirement>
{
    protected override Task HandleRequirementAsync(AuthorizationHandlerContext context, ScopeRequirement requirement)
    {
        if (context.User.Identity?.IsAuthenticated == true &&
            context.User.HasClaim(c => c.Type == ApiScopes.ClaimType && (c.Value == requirement.Scope || c.Value == ApiScopes.All)))
        {
            context.Succeed(requirement);
        }

        return Task.CompletedTask;
    }
}

/// <summary>
/// A refused scope answers with the scope that was needed (gRPC PERMISSION_DENIED, REST 403 problem JSON), which the
/// framework's default handler cannot say; everything else (a challenge, success) is the default behaviour.
/// </summary>
public sealed class ScopeAwareAuthorizationResultHandler(ILogger<ScopeAwareAuthorizationResultHandler> logger) : IAuthorizationMiddlewareResultHandler
{
    private readonly AuthorizationMiddlewareResultHandler _default = new();

    public async Task HandleAsync(RequestDelegate next, HttpContext context, AuthorizationPolicy policy, PolicyAuthorizationResult authorizeResult)
    {
        if (authorizeResult.Forbidden &&
            authorizeResult.AuthorizationFailure?.FailedRequirements.OfType<ScopeRequirement>().FirstOrDefault() is { } missing)
        {
            var caller = context.User.Identity?.Name ?? "?";
            AuthTelemetry.Failed("missing_scope", missing.Scope);
            AuthTelemetry.LogForbidden(logger, caller, missing.Scope, context.Request.Method, context.Request.Path);
            await AuthResponses.WriteAsync(context, StatusCodes.Status403Forbidden, "Forbidden",
                $"the API key '{caller}' does not grant the scope '{missing.Scope}' this operation needs",
                new Dictionary<string, object?> { ["requiredScope"] = missing.Scope });
            return;
        }

        await _default.HandleAsync(next, context, policy, authorizeResult);
    }
}
