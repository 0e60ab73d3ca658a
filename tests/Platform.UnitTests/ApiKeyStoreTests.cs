using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Hosting.Internal;
using ScoringPlatform.Api.Auth;
using ScoringPlatform.ServiceDefaults;
using ScoringPlatform.ServiceDefaults.RateLimiting;

namespace ScoringPlatform.Platform.UnitTests;

/// <summary>The key store: hashes, lookups, scopes and the start-time checks of the Auth section.</summary>
public sealed class ApiKeyStoreTests
{
    private const string PlainKey = "plain-key-0123456789abcdef";
    private const string HashedKey = "hashed-key-fedcba9876543210";

    private static string HexOf(string key) => Convert.ToHexString(ApiKeyStore.Hash(key));

    private static ApiKeyOptions Entry(string name, string? key = null, string? hash = null, params string[] scopes) =>
        new() { Name = name, Key = key, KeyHash = hash, Scopes = [.. scopes] };

    private static ApiKeyStore Store(params ApiKeyOptions[] entries)
    {
        var (store, problems) = ApiKeyStore.Build(entries);
        problems.Should().BeEmpty();
        return store!;
    }

    [Theory]
    [InlineData("")]
    [InlineData("sha256:")]
    [InlineData("SHA256:")]
    [InlineData("  ")]
    public void A_hash_is_64_hex_digits_of_either_case_optionally_prefixed_sha256(string prefix)
    {
        var hex = HexOf(HashedKey);

        ApiKeyStore.TryParseHash(prefix + hex.ToLowerInvariant(), out var lower).Should().BeTrue();
        ApiKeyStore.TryParseHash(prefix + hex.ToUpperInvariant() + " ", out var upper).Should().BeTrue();

        lower.Should().Equal(ApiKeyStore.Hash(HashedKey));
        upper.Should().Equal(lower);
    }

    [Theory]
    [InlineData("abc")]
    [InlineData("sha1:da39a3ee5e6b4b0d3255bfef95601890afd80709")]
    [InlineData("zz5e8d4c1b3a29f7e6d5c4b3a2918f7e6d5c4b3a2918f7e6d5c4b3a2918f7e6d")]
    [InlineData("7e6d5c4b3a2918f7e6d5c4b3a2918f7e6d5c4b3a2918f7e6d5c4b3a2918f7e6")]
    [InlineData("n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg=")]
    public void Anything_else_is_not_a_hash(string text) =>
        ApiKeyStore.TryParseHash(text, out _).Should().BeFalse();

    [Fact]
    public void A_plain_key_and_a_hashed_key_are_found_by_the_key_and_nothing_else_finds_them()
    {
        var store = Store(Entry("plain", key: PlainKey, scopes: "*"), Entry("hashed", hash: "sha256:" + HexOf(HashedKey), scopes: "verdicts:read"));

        store.Find(PlainKey)!.Name.Should().Be("plain");
        store.Find(HashedKey)!.Name.Should().Be("hashed");
        store.Find(PlainKey[..^1]).Should().BeNull("a prefix is not the key");
        store.Find(PlainKey + "x").Should().BeNull();
        store.Find(PlainKey.ToUpperInvariant()).Should().BeNull("keys are compared exactly");
        store.Find(HexOf(HashedKey)).Should().BeNull("the configured digest is not a key");
        store.Find("").Should().BeNull();
    }

    [Fact]
    public void Only_digests_are_kept_so_a_lookup_compares_fixed_length_values()
    {
        var store = Store(Entry("plain", key: PlainKey, scopes: "*"), Entry("hashed", hash: HexOf(HashedKey), scopes: "*"));

        store.Keys.Should().OnlyContain(k => k.Hash.Length == 32);
        store.Keys.Single(k => k.Name == "plain").Hash.Should().Equal(ApiKeyStore.Hash(PlainKey));
    }

    [Fact]
    public void A_key_grants_its_scopes_and_star_or_admin_grants_every_scope()
    {
        var store = Store(
            Entry("reader", key: PlainKey, scopes: ["verdicts:read", "leads:read"]),
            Entry("ops", key: HashedKey, scopes: "admin"),
            Entry("star", key: "star-key-0123456789abcdef", scopes: "*"));

        var reader = store.Find(PlainKey)!;
        reader.Grants(ApiScopes.VerdictsRead).Should().BeTrue();
        reader.Grants(ApiScopes.LeadsRead).Should().BeTrue();
        reader.Grants(ApiScopes.FeedbackWrite).Should().BeFalse();
        foreach (var scope in ApiScopes.PerService)
        {
            store.Find(HashedKey)!.Grants(scope).Should().BeTrue();
            store.Find("star-key-0123456789abcdef")!.Grants(scope).Should().BeTrue();
        }
    }

    [Fact]
    public void Unusable_entries_are_refused_each_with_its_reason_and_never_with_the_key()
    {
        var (store, problems) = ApiKeyStore.Build([
            Entry("", key: "nameless-key-0123456789", scopes: "*"),
            Entry("both", key: PlainKey, hash: HexOf(PlainKey), scopes: "*"),
            Entry("neither", scopes: "*"),
            Entry("short", key: "short-key", scopes: "*"),
            Entry("badscope", key: "badscope-key-0123456789", scopes: "verdicts:write"),
            Entry("noscope", key: "noscope-key-0123456789"),
            Entry("twice", key: "twice-key-0123456789ab", scopes: "*"),
            Entry("TWICE", key: "twice-key-ba9876543210", scopes: "*"),
            Entry("samekey", hash: HexOf("twice-key-0123456789ab"), scopes: "*"),
        ]);

        store.Should().BeNull();
        problems.Should().Contain(p => p.StartsWith("Auth:ApiKeys:0:") && p.Contains("Name is required"));
        problems.Should().Contain(p => p.Contains("('both')") && p.Contains("exactly one of Key and KeyHash"));
        problems.Should().Contain(p => p.Contains("('neither')") && p.Contains("exactly one of Key and KeyHash"));
        problems.Should().Contain(p => p.Contains("('short')") && p.Contains("at least 16"));
        problems.Should().Contain(p => p.Contains("('badscope')") && p.Contains("unknown scope 'verdicts:write'"));
        problems.Should().Contain(p => p.Contains("('noscope')") && p.Contains("Scopes is empty"));
        problems.Should().Contain(p => p.Contains("('TWICE')") && p.Contains("name is used twice"));
        problems.Should().Contain(p => p.Contains("('samekey')") && p.Contains("same key is configured twice"));
        problems.Should().NotContain(p => p.Contains("key-0123456789") || p.Contains(PlainKey) || p.Contains(HexOf(PlainKey)));
    }

    [Theory]
    [InlineData("Production", false, false)]
    [InlineData("Staging", false, false)]
    [InlineData("Production", true, true)]
    [InlineData("Development", false, true)]
    public void Without_keys_the_options_are_valid_only_in_Development_or_when_disabled(string environment, bool disabled, bool valid)
    {
        var validation = new ApiAuthOptionsValidation(new HostingEnvironment { EnvironmentName = environment });

        var result = validation.Validate(null, new ApiAuthOptions { Disabled = disabled });

        result.Succeeded.Should().Be(valid);
        if (!valid) result.FailureMessage.Should().Contain("Auth:Disabled=true").And.Contain(environment);
        ApiAuthOptionsValidation.RunsOpen(new ApiAuthOptions { Disabled = disabled }, new HostingEnvironment { EnvironmentName = environment })
            .Should().Be(valid);
    }

    [Fact]
    public void With_keys_the_Api_never_runs_open_unless_disabled()
    {
        var options = new ApiAuthOptions { ApiKeys = [Entry("a", key: PlainKey, scopes: "*")] };
        ApiAuthOptionsValidation.RunsOpen(options, new HostingEnvironment { EnvironmentName = Environments.Development }).Should().BeFalse();
        options.Disabled = true;
        ApiAuthOptionsValidation.RunsOpen(options, new HostingEnvironment { EnvironmentName = Environments.Production }).Should().BeTrue();
    }
}

/// <summary>Per-caller rate limit settings and the token bucket they make.</summary>
public sealed class PerCallerRateLimitTests
{
    [Fact]
    public void A_caller_override_replaces_what_it_sets_and_keeps_the_defaults_for_the_rest()
    {
        var options = new PerCallerRateLimitOptions
        {
            PermitsPerSecond = 1000,
            Burst = 2000,
            Callers = { ["bench"] = new CallerRateLimit { PermitsPerSecond = 1_000_000 }, ["partner"] = new CallerRateLimit { Burst = 5 } },
        };

        options.For("BENCH").Should().BeEquivalentTo(new CallerRateLimit { PermitsPerSecond = 1_000_000, Burst = 2000 }, "caller names are case-insensitive");
        options.For("partner").Should().BeEquivalentTo(new CallerRateLimit { PermitsPerSecond = 1000, Burst = 5 });
        options.For("anyone").Should().BeEquivalentTo(new CallerRateLimit { PermitsPerSecond = 1000, Burst = 2000 });
    }

    [Theory]
    [InlineData(1000, 2000, 100, 100)]
    [InlineData(15, 30, 2, 133.33)]
    [InlineData(1, 5, 1, 1000)]
    [InlineData(0.001, 3, 1, 1_000_000)]
    public void The_bucket_holds_the_burst_and_refills_the_rate_in_steps_of_about_a_tenth_of_a_second(double perSecond, int burst, int tokens, double periodMs)
    {
        var bucket = PerCallerRateLimiting.Bucket(new CallerRateLimit { PermitsPerSecond = perSecond, Burst = burst });

        bucket.TokenLimit.Should().Be(burst);
        bucket.TokensPerPeriod.Should().Be(tokens);
        bucket.ReplenishmentPeriod.TotalMilliseconds.Should().BeApproximately(periodMs, 0.01);
        (bucket.TokensPerPeriod / bucket.ReplenishmentPeriod.TotalSeconds).Should().BeApproximately(perSecond, perSecond * 1e-6);
        bucket.QueueLimit.Should().Be(0, "a refused call is answered at once, never parked");
    }

    [Theory]
    [InlineData(0, 10)]
    [InlineData(-1, 10)]
    [InlineData(10, 0)]
    public void Impossible_limits_are_refused(double perSecond, int burst)
    {
        new PerCallerRateLimitOptions { PermitsPerSecond = perSecond, Burst = burst }.Problem().Should().NotBeNull();
        new PerCallerRateLimitOptions { Callers = { ["x"] = new CallerRateLimit { PermitsPerSecond = perSecond, Burst = burst } } }.Problem()
            .Should().StartWith("Callers:x:");
    }

    [Theory]
    [InlineData("plain text", "plain text")]
    [InlineData("100% sure", "100%25 sure")]
    [InlineData("caller 'é'", "caller '%C3%A9'")]
    [InlineData("line\nbreak", "line%0Abreak")]
    public void The_grpc_message_is_percent_encoded_utf8(string message, string encoded) =>
        GrpcTrailersOnly.PercentEncode(message).Should().Be(encoded);
}
