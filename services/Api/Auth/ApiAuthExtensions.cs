using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.Extensions.Options;
using ScoringPlatform.ServiceDefaults.RateLimiting;

namespace ScoringPlatform.Api.Auth;

/// <summary>
/// API keys as an ASP.NET Core authentication scheme, one authorization policy per scope (named after it), a fallback
/// policy that wants a key on every endpoint nothing else opened, and the per-caller rate limit behind them.
/// </summary>
public static class ApiAuthExtensions
{
    public static WebApplicationBuilder AddApiAuth(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddOptions<ApiAuthOptions>().BindConfiguration(ApiAuthOptions.Section).ValidateOnStart();
        services.AddSingleton<IValidateOptions<ApiAuthOptions>, ApiAuthOptionsValidation>();
        services.AddSingleton<ApiKeyAuthentication>();

        services.AddAuthentication(ApiKeyAuthenticationHandler.SchemeName)
            .AddScheme<AuthenticationSchemeOptions, ApiKeyAuthenticationHandler>(ApiKeyAuthenticationHandler.SchemeName, _ => { });

        var authorization = services.AddAuthorizationBuilder()
            // Every door has a key: an endpoint that says nothing (a new service, reflection, Swagger when not opened)
            // still needs a valid key; health, Swagger and reflection are opened explicitly in MapApi.
            .SetFallbackPolicy(new AuthorizationPolicyBuilder(ApiKeyAuthenticationHandler.SchemeName).RequireAuthenticatedUser().Build());
        foreach (var scope in ApiScopes.PerService)
        {
            authorization.AddPolicy(scope, p => p.AddAuthenticationSchemes(ApiKeyAuthenticationHandler.SchemeName)
                .RequireAuthenticatedUser().AddRequirements(new ScopeRequirement(scope)));
        }

        services.AddSingleton<IAuthorizationHandler, ScopeAuthorizationHandler>();
        services.AddSingleton<IAuthorizationMiddlewareResultHandler, ScopeAwareAuthorizationResultHandler>();
        services.AddPerCallerRateLimiting(builder.Configuration.GetSection("RateLimiting"));
        return builder;
    }

    /// <summary>Authentication, authorization, then the rate limit (partitioned by the authenticated caller).</summary>
    public static WebApplication UseApiAuth(this WebApplication app)
    {
        var keys = app.Services.GetRequiredService<ApiKeyAuthentication>();
        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(ApiAuthExtensions).FullName!);
        if (keys.Store is { } store) AuthTelemetry.LogKeys(logger, store.Keys.Count, string.Join(", ", store.Keys.Select(k => $"{k.Name} [{string.Join(' ', k.Scopes)}]")));
        else AuthTelemetry.LogOpen(logger, app.Services.GetRequiredService<IOptions<ApiAuthOptions>>().Value.Disabled ? "Auth:Disabled=true" : "Development and no Auth:ApiKeys");

        app.UseAuthentication();
        app.UseAuthorization();
        app.UsePerCallerRateLimiting();
        return app;
    }
}
