using System.Collections.Frozen;
using System.Text.Json;

namespace ScoringPlatform.Scoring;

/// <summary>
/// Country names to ISO 3166-1 alpha-2 codes, from Debian's iso-codes data (Data/iso_3166-1.json, embedded, so
/// nothing is installed and every replica resolves the same way whatever its ICU): alpha-2, alpha-3, the English
/// name, official name and common name. Aliases outside the standard ("UK", "England") come from the model.
/// </summary>
internal static class Countries
{
    private const string ResourceName = "ScoringPlatform.Scoring.iso_3166-1.json";
    private static readonly Lazy<FrozenDictionary<string, string>> ByName = new(Load);

    public static IReadOnlyDictionary<string, string> Names => ByName.Value;

    /// <summary>The alpha-2 code for a code, name or alias (case, punctuation and spacing ignored); null when unknown.</summary>
    public static string? Resolve(string text, IReadOnlyDictionary<string, string> aliases)
    {
        var phrase = TextMatch.Phrase(text);
        if (aliases.TryGetValue(phrase, out var alias)) return alias;
        return ByName.Value.TryGetValue(phrase, out var code) ? code : null;
    }

    public static bool IsCode(string code) => ByName.Value.TryGetValue(TextMatch.Phrase(code), out var c) && c == code.Trim().ToUpperInvariant();

    private static FrozenDictionary<string, string> Load()
    {
        using var stream = typeof(Countries).Assembly.GetManifestResourceStream(ResourceName)
            ?? throw new InvalidOperationException($"Embedded resource {ResourceName} is missing from the Scoring assembly.");
        using var doc = JsonDocument.Parse(stream);
        var names = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var country in doc.RootElement.GetProperty("3166-1").EnumerateArray())
        {
            var code = country.GetProperty("alpha_2").GetString()!;
            foreach (var field in new[] { "alpha_2", "alpha_3", "name", "official_name", "common_name" })
            {
                if (country.TryGetProperty(field, out var value) && value.GetString() is { } name)
                    names.TryAdd(TextMatch.Phrase(name), code);
            }
        }

        return names.ToFrozenDictionary(StringComparer.Ordinal);
    }
}
