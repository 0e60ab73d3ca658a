using Microsoft.Extensions.Options;

namespace ScoringPlatform.Api.Auth;

/// <summary>
/// The loaded key store, or null when authentication is off. Built once from the validated <see cref="ApiAuthOptions"/>;
/// the validator (<see cref="ApiAuthOptionsValidation"/>) has already refused what <see cref="ApiKeyStore.Build"/> refuses.
/// </summary>
public sealed class ApiKeyAuthentication
{
    /// <summary>The identity every request gets when authentication is off (one rate-limit bucket for all).</summary>
    public const string OpenCaller = "anonymous";

    public ApiKeyAuthentication(IOptions<ApiAuthOptions> options, IHostEnvironment environment)
    {
        IsOpen = ApiAuthOptionsValidation.RunsOpen(options.Value, environment);
        if (IsOpen) return;
        var (store, problems) = ApiKeyStore.Build(options.Value.ApiKeys);
        Store = store ?? throw new OptionsValidationException(ApiAuthOptions.Section, typeof(ApiAuthOptions), problems);
    }

    public bool IsOpen { get; }

    public ApiKeyStore? Store { get; }
}

/// <summary>
/// Refuses on start what cannot work: malformed keys, unknown scopes, and no keys outside Development without an
/// explicit <c>Auth:Disabled=true</c> (an Api that silently runs open is the failure this exists to prevent).
/// </summary>
public sealed class ApiAuthOptionsValidation(IHostEnvironment environment) : IValidateOptions<ApiAuthOptions>
{
    public static bool RunsOpen(ApiAuthOptions options, IHostEnvironment environment) =>
        options.Disabled || (options.ApiKeys.Count == 0 && environment.IsDevelopment());

    public ValidateOptionsResult Validate(string? name, ApiAuthOptions options)
    {
        if (options.Disabled) return ValidateOptionsResult.Success;
        if (options.ApiKeys.Count == 0)
        {
            return environment.IsDevelopment()
                ? ValidateOptionsResult.Success
                : ValidateOptionsResult.Fail(
                    $"No API keys are configured (Auth:ApiKeys) and the environment is '{environment.EnvironmentName}', not Development: " +
                    "the Api refuses to run without authentication. Configure at least one key (Auth__ApiKeys__0__Name, " +
                    "Auth__ApiKeys__0__KeyHash, Auth__ApiKeys__0__Scopes__0), or set Auth:Disabled=true to run open on purpose.");
        }

        var (_, problems) = ApiKeyStore.Build(options.ApiKeys);
        return problems.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(problems);
    }
}
