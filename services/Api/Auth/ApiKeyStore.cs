using System.Security.Cryptography;
using System.Text;

namespace ScoringPlatform.Api.Auth;

/// <summary>A configured key: its caller's name, the SHA-256 of the key, and the scopes it grants.</summary>
public sealed record ApiKey(string Name, byte[] Hash, IReadOnlySet<string> Scopes)
{
    public bool Grants(string scope) => Scopes.Contains(ApiScopes.All) || Scopes.Contains(scope);
}

/// <summary>
/// The configured keys, held as SHA-256 digests only (a plain <c>Key</c> is hashed on load). A presented key is
/// hashed and compared with every digest in constant time, without stopping at a match, so neither the key's
/// length, its prefix nor which entry matched shows in the time an answer takes.
/// </summary>
public sealed class ApiKeyStore
{
    /// <summary>Plain keys shorter than this are refused on start (a guessable key is no key).</summary>
    public const int MinimumKeyLength = 16;

    private readonly ApiKey[] _keys;

    private ApiKeyStore(ApiKey[] keys) => _keys = keys;

    public IReadOnlyList<ApiKey> Keys => _keys;

    /// <summary>The store, or the reasons the configuration is unusable (each names the entry, never the key).</summary>
    public static (ApiKeyStore? Store, IReadOnlyList<string> Problems) Build(IReadOnlyList<ApiKeyOptions> entries)
    {
        var problems = new List<string>();
        var keys = new List<ApiKey>();
        for (var i = 0; i < entries.Count; i++)
        {
            var entry = entries[i];
            var where = $"Auth:ApiKeys:{i}" + (string.IsNullOrWhiteSpace(entry.Name) ? "" : $" ('{entry.Name}')");
            if (string.IsNullOrWhiteSpace(entry.Name)) problems.Add($"{where}: Name is required");
            else if (keys.Any(k => string.Equals(k.Name, entry.Name, StringComparison.OrdinalIgnoreCase))) problems.Add($"{where}: the name is used twice");

            byte[]? hash = null;
            var hasKey = !string.IsNullOrEmpty(entry.Key);
            var hasHash = !string.IsNullOrEmpty(entry.KeyHash);
            if (hasKey == hasHash) problems.Add($"{where}: set exactly one of Key and KeyHash");
            else if (hasKey && entry.Key!.Length < MinimumKeyLength) problems.Add($"{where}: Key must be at least {MinimumKeyLength} characters");
            else if (hasKey) hash = Hash(entry.Key!);
            else if (!TryParseHash(entry.KeyHash!, out hash)) problems.Add($"{where}: KeyHash must be a SHA-256 digest, 64 hex digits (optionally 'sha256:' first)");

            if (hash is not null && keys.Any(k => CryptographicOperations.FixedTimeEquals(k.Hash, hash))) problems.Add($"{where}: the same key is configured twice");

            var scopes = new HashSet<string>(StringComparer.Ordinal);
            foreach (var scope in entry.Scopes)
            {
                if (ApiScopes.Normalize(scope) is { } known) scopes.Add(known);
                else problems.Add($"{where}: unknown scope '{scope}' (known: {string.Join(", ", ApiScopes.PerService)}, * or admin)");
            }

            if (entry.Scopes.Count == 0) problems.Add($"{where}: Scopes is empty (a key must grant something)");
            if (hash is not null && !string.IsNullOrWhiteSpace(entry.Name)) keys.Add(new ApiKey(entry.Name.Trim(), hash, scopes));
        }

        return problems.Count == 0 ? (new ApiKeyStore([.. keys]), problems) : (null, problems);
    }

    /// <summary>The key's entry, or null. Compares digests in constant time and always looks at every entry.</summary>
    public ApiKey? Find(string presented)
    {
        var hash = Hash(presented);
        ApiKey? found = null;
        foreach (var key in _keys)
        {
            if (CryptographicOperations.FixedTimeEquals(key.Hash, hash)) found = key;
        }

        return found;
    }

    public static byte[] Hash(string key) => SHA256.HashData(Encoding.UTF8.GetBytes(key));

    /// <summary>64 hex digits (either case), optionally prefixed <c>sha256:</c>, surrounding whitespace ignored.</summary>
    public static bool TryParseHash(string text, out byte[] hash)
    {
        var hex = text.Trim();
        if (hex.StartsWith("sha256:", StringComparison.OrdinalIgnoreCase)) hex = hex["sha256:".Length..];
        hash = [];
        if (hex.Length != SHA256.HashSizeInBytes * 2 || !hex.All(char.IsAsciiHexDigit)) return false;
        hash = Convert.FromHexString(hex);
        return true;
    }
}
