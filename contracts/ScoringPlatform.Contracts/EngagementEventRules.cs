using System.Text.Json;

namespace ScoringPlatform.Contracts;

/// <summary>
/// The input contract of an engagement event, in one place: the Kafka edge (<see cref="EngagementEventParser"/>)
/// and the Api's lead-id check use these rules, and <c>contracts/schema/engagement-event.schema.json</c>
/// states the same limits (a test pins them together). Everything an accepted event carries must also be
/// storable: PostgreSQL text and jsonb reject NUL and lone UTF-16 surrogates.
/// </summary>
public static class EngagementEventRules
{
    /// <summary>Largest raw message accepted, checked on the bytes before parsing.</summary>
    public const int MaxMessageBytes = 32 * 1024;

    /// <summary>Longest <c>id</c>, <c>leadId</c>, <c>anonymousId</c> (UTF-16 code units).</summary>
    public const int MaxIdLength = 200;

    /// <summary>An anonymous visitor's stream key is the prefix plus the id, and must itself be a valid lead id.</summary>
    public const int MaxAnonymousIdLength = MaxIdLength - 5; // "anon:"

    /// <summary>Longest <c>source</c> and <c>campaign</c>.</summary>
    public const int MaxLabelLength = 200;

    /// <summary>Longest string value of a known property (<c>url</c>, <c>emailId</c>, ...).</summary>
    public const int MaxPropertyLength = 2_000;

    /// <summary>Longest string trait other than the email (job title, industry).</summary>
    public const int MaxTraitLength = 200;

    /// <summary>RFC 5321's limit on an address.</summary>
    public const int MaxEmailLength = 320;

    public const int MinCompanySize = 0;
    public const int MaxCompanySize = 10_000_000;

    /// <summary>ISO 3166-1 alpha-2.</summary>
    public const int CountryLength = 2;

    /// <summary>Default of the oldest accepted <c>occurredAt</c>; older timestamps are clock or unit errors.</summary>
    public static readonly DateTimeOffset DefaultOldestOccurredAt = new(2000, 1, 1, 0, 0, 0, TimeSpan.Zero);

    /// <summary>Default of how far ahead of the consumer's clock <c>occurredAt</c> may be (producer clock skew).</summary>
    public static readonly TimeSpan DefaultFutureSkew = TimeSpan.FromDays(1);

    /// <summary>The known properties whose value is a string, with their allowed values where the set is closed.</summary>
    public static readonly IReadOnlyDictionary<string, IReadOnlyList<string>?> KnownStringProperties =
        new Dictionary<string, IReadOnlyList<string>?>(StringComparer.Ordinal)
        {
            ["category"] = PageCategories.All,
            ["formType"] = FormTypes.All,
            ["url"] = null,
            ["emailId"] = null,
            ["contentId"] = null,
            ["webinarId"] = null,
            ["eventName"] = null,
            ["previousId"] = null,
        };

    /// <summary>
    /// Why a value cannot be an identifier (event id, lead id, anonymous id), or null when it can: non-empty,
    /// at most <see cref="MaxIdLength"/> code units, no control characters, no lone surrogates, no leading or
    /// trailing whitespace (so it is never whitespace only).
    /// </summary>
    public static string? IdentifierProblem(string? value, int maxLength = MaxIdLength)
    {
        if (string.IsNullOrEmpty(value)) return "is empty";
        if (value.Length > maxLength) return $"is longer than {maxLength} characters";
        if (TextProblem(value) is { } problem) return problem;
        if (char.IsWhiteSpace(value[0]) || char.IsWhiteSpace(value[^1])) return "has leading or trailing whitespace";
        return null;
    }

    /// <summary>Why a label (source, campaign, string trait) is not acceptable text, or null.</summary>
    public static string? LabelProblem(string value, int maxLength)
    {
        if (value.Length > maxLength) return $"is longer than {maxLength} characters";
        return TextProblem(value);
    }

    /// <summary>Control characters (NUL included) and lone surrogates: text PostgreSQL or a reader would choke on.</summary>
    public static string? TextProblem(string value)
    {
        for (var i = 0; i < value.Length; i++)
        {
            var c = value[i];
            if (char.IsControl(c)) return $"contains the control character U+{(int)c:X4}";
            if (char.IsHighSurrogate(c) && i + 1 < value.Length && char.IsLowSurrogate(value[i + 1]))
            {
                i++;
                continue;
            }

            if (char.IsSurrogate(c)) return "contains a lone UTF-16 surrogate";
        }

        return null;
    }

    /// <summary>
    /// Why an arbitrary JSON value (nested properties) cannot be stored as jsonb, or null: no NUL and no lone
    /// surrogate in any string or property name. Other control characters are fine there (jsonb keeps them escaped).
    /// </summary>
    public static string? JsonValueProblem(JsonElement value)
    {
        switch (value.ValueKind)
        {
            case JsonValueKind.String:
                return StorableStringProblem(value);
            case JsonValueKind.Array:
                foreach (var item in value.EnumerateArray())
                {
                    if (JsonValueProblem(item) is { } problem) return problem;
                }

                return null;
            case JsonValueKind.Object:
                foreach (var property in value.EnumerateObject())
                {
                    if (StorableTextProblem(property.Name) is { } nameProblem) return "a property name " + nameProblem;
                    if (JsonValueProblem(property.Value) is { } problem) return problem;
                }

                return null;
            default:
                return null;
        }
    }

    private static string? StorableStringProblem(JsonElement value)
    {
        string text;
        try
        {
            text = value.GetString()!;
        }
        catch (InvalidOperationException)
        {
            // System.Text.Json refuses to unescape a lone surrogate (\ud800) into a string.
            return "contains a lone UTF-16 surrogate";
        }

        return StorableTextProblem(text);
    }

    /// <summary>Why a string cannot be stored by PostgreSQL (text or jsonb) at all: NUL or a lone surrogate.</summary>
    public static string? StorableTextProblem(string text)
    {
        if (text.Contains('\0', StringComparison.Ordinal)) return "contains NUL (U+0000)";
        for (var i = 0; i < text.Length; i++)
        {
            if (!char.IsSurrogate(text[i])) continue;
            if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1])) i++;
            else return "contains a lone UTF-16 surrogate";
        }

        return null;
    }
}

/// <summary>The accepted <c>occurredAt</c> interval, fixed for one parse (the consumer's clock is passed in).</summary>
public readonly record struct OccurredAtWindow(DateTimeOffset Earliest, DateTimeOffset Latest)
{
    public static OccurredAtWindow At(DateTimeOffset now, TimeSpan futureSkew, DateTimeOffset oldest) => new(oldest, now + futureSkew);

    public static OccurredAtWindow Default(TimeProvider clock) =>
        At(clock.GetUtcNow(), EngagementEventRules.DefaultFutureSkew, EngagementEventRules.DefaultOldestOccurredAt);

    public bool Contains(DateTimeOffset at) => at >= Earliest && at <= Latest;
}
