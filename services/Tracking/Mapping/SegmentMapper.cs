using System.Globalization;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using ScoringPlatform.Contracts;
using ScoringPlatform.Tracking.Endpoints;

namespace ScoringPlatform.Tracking.Mapping;

/// <summary>What one request's messages share: the authenticated source, when the request arrived, the batch's sentAt.</summary>
public sealed record MappingContext(string Source, DateTimeOffset ReceivedAt, DateTimeOffset? BatchSentAt, OccurredAtWindow Window);

/// <summary>The outcome of mapping one Segment message.</summary>
public abstract record MapOutcome
{
    /// <summary>An engagement event, already checked by the contract's parser, with the bytes to produce.</summary>
    public sealed record Mapped(EngagementEvent Event, byte[] Payload) : MapOutcome
    {
        /// <summary>The Kafka message key: the lead id, else the anonymous id (the schema's keying rule).</summary>
        public string Key => Event.LeadId ?? Event.AnonymousId!;
    }

    /// <summary>A call accepted but not an engagement event (<c>group</c>).</summary>
    public sealed record Ignored(string Call) : MapOutcome;

    /// <summary>Refused: the message is wrong, and <see cref="Field"/> says where.</summary>
    public sealed record Refused(string Code, string Field, string Message) : MapOutcome;
}

/// <summary>
/// Maps Segment / RudderStack tracking calls (<c>track</c>, <c>page</c>, <c>screen</c>, <c>identify</c>, <c>alias</c>,
/// <c>group</c>) onto the engagement event contract. Pure: the clock and source come in <see cref="MappingContext"/>.
/// Values the caller states (ids, event name, timestamps, properties) are refused with a field name when the contract
/// would refuse them; optional enrichment (traits, context) the contract cannot carry is left out, so a profile update
/// is not lost over one odd trait. docs/tracking.md has the tables.
/// </summary>
public static class SegmentMapper
{
    public const string Track = "track";
    public const string Page = "page";
    public const string Screen = "screen";
    public const string Identify = "identify";
    public const string Alias = "alias";
    public const string Group = "group";

    public static readonly IReadOnlySet<string> Calls = new HashSet<string>(StringComparer.Ordinal) { Track, Page, Screen, Identify, Alias, Group };

    /// <summary>Property names the contract reserves; the mapping sets them, a caller's values are inputs only.</summary>
    private static readonly HashSet<string> Reserved = new(StringComparer.Ordinal) { "category", "formType", "form_type", "eventName", "previousId" };

    /// <summary>Segment's snake_case spellings of the contract's free-text properties.</summary>
    private static readonly Dictionary<string, string> Renamed = new(StringComparer.Ordinal)
    {
        ["email_id"] = "emailId",
        ["content_id"] = "contentId",
        ["webinar_id"] = "webinarId",
    };

    /// <param name="message">One message (a single call's body, or an element of a batch).</param>
    /// <param name="call">The call named by the path (<c>/v1/track</c>), or null for a batch element (its <c>type</c>).</param>
    public static MapOutcome Map(JsonElement message, string? call, MappingContext context)
    {
        if (message.ValueKind != JsonValueKind.Object)
            return Refuse(TrackingErrors.InvalidField, "", "a message must be a JSON object");

        if (call is null)
        {
            if (!TryText(message, "type", out var type, out var typeError)) return typeError!;
            if (type is null) return Missing("type", "a batch message needs 'type' (track, page, screen, identify, alias or group)");
            call = type;
        }

        if (!Calls.Contains(call))
            return Refuse(TrackingErrors.UnsupportedType, "type", $"'{call}' is not a supported call; use track, page, screen, identify, alias or group");

        if (!TryText(message, "userId", out var userId, out var error)
            || !TryText(message, "anonymousId", out var anonymousId, out error)
            || !TryText(message, "messageId", out var messageId, out error))
        {
            return error!;
        }

        if (userId is null && anonymousId is null) return Missing("userId", "'userId' or 'anonymousId' is required");
        if (call == Group) return new MapOutcome.Ignored(Group);

        if (!TryTime(message, "timestamp", out var timestamp, out error) || !TryTime(message, "sentAt", out var sentAt, out error)) return error!;
        if (!TryObject(message, "properties", out var properties, out error) || !TryObject(message, "context", out var ctx, out error)
            || !TryObject(message, "traits", out var traits, out error))
        {
            return error!;
        }

        var envelope = new EngagementEvent
        {
            Id = messageId ?? DerivedId(message, call, context.Source),
            Type = "",
            LeadId = userId,
            AnonymousId = anonymousId,
            OccurredAt = OccurredAt(timestamp, sentAt ?? context.BatchSentAt, context.ReceivedAt),
            Source = context.Source,
            Campaign = Optional(Text(ctx, "campaign", "name"), "context.campaign.name", EngagementEventRules.MaxLabelLength),
        };

        Either mapped = call switch
        {
            Track => MapTrack(message, envelope, properties, ctx),
            Page or Screen => MapPage(message, envelope, properties, ctx),
            Identify => envelope with { Type = EngagementEventTypes.ProfileUpdated, Traits = MapTraits(traits) },
            _ => MapAlias(message, envelope),
        };
        return mapped.Event is { } evt ? Check(evt, context) : mapped.Refusal!;
    }

    private static Either MapTrack(JsonElement message, EngagementEvent envelope, JsonElement? properties, JsonElement? ctx)
    {
        if (!TryText(message, "event", out var name, out var error)) return error!;
        if (name is null) return Missing("event", "a track call needs 'event' (the action's name)");

        var props = CopyProperties(properties, ctx);
        var known = TrackNames.Find(name);
        var type = known?.Type ?? EngagementEventTypes.CustomEvent;
        if (known is null) props["eventName"] = JsonSerializer.SerializeToElement(name);
        if (type == EngagementEventTypes.FormSubmitted)
            props["formType"] = JsonSerializer.SerializeToElement(known!.FormType ?? TrackNames.FormType(Text(properties, "formType") ?? Text(properties, "form_type")));
        if (type == EngagementEventTypes.PageViewed)
            props["category"] = JsonSerializer.SerializeToElement(Category(null, null, properties, props));
        return envelope with { Type = type, Properties = props };
    }

    private static Either MapPage(JsonElement message, EngagementEvent envelope, JsonElement? properties, JsonElement? ctx)
    {
        if (!TryText(message, "category", out var category, out var error) || !TryText(message, "name", out var name, out error)) return error!;
        var props = CopyProperties(properties, ctx);
        props["category"] = JsonSerializer.SerializeToElement(Category(category, name, properties, props));
        if (name is not null && !props.ContainsKey("name")) props["name"] = JsonSerializer.SerializeToElement(name);
        return envelope with { Type = EngagementEventTypes.PageViewed, Properties = props };
    }

    private static Either MapAlias(JsonElement message, EngagementEvent envelope)
    {
        if (!TryText(message, "previousId", out var previousId, out var error)) return error!;
        if (envelope.LeadId is null) return Missing("userId", "an alias call needs 'userId' (the identity the previous one becomes)");
        if (previousId is null) return Missing("previousId", "an alias call needs 'previousId' (the identity to link to the user)");
        return envelope with
        {
            Type = EngagementEventTypes.IdentityLinked,
            Properties = new() { ["previousId"] = JsonSerializer.SerializeToElement(previousId) },
        };
    }

    /// <summary>The first clue that names a known category: the call's category, properties.category, the page name, its path.</summary>
    private static string Category(string? category, string? name, JsonElement? properties, Dictionary<string, JsonElement> props) =>
        PageCategoryNames.Recognise(category)
        ?? PageCategoryNames.Recognise(Text(properties, "category"))
        ?? PageCategoryNames.Recognise(name)
        ?? PageCategoryNames.FromPath(Text(properties, "path"))
        ?? PageCategoryNames.FromPath(props.TryGetValue("url", out var url) && url.ValueKind == JsonValueKind.String ? url.GetString() : null)
        ?? PageCategories.Other;

    /// <summary>
    /// The caller's properties without the names the contract reserves, Segment's snake_case ids renamed, and the page
    /// URL from <c>context.page.url</c> when the properties carry none.
    /// </summary>
    private static Dictionary<string, JsonElement> CopyProperties(JsonElement? properties, JsonElement? ctx)
    {
        var props = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
        if (properties is { } source)
        {
            foreach (var property in source.EnumerateObject())
            {
                if (Reserved.Contains(property.Name)) continue;
                var name = Renamed.GetValueOrDefault(property.Name, property.Name);
                if (name != property.Name && source.TryGetProperty(name, out _)) continue;
                props[name] = property.Value.Clone();
            }
        }

        if (!props.ContainsKey("url") && Optional(Text(ctx, "page", "url"), "context.page.url", EngagementEventRules.MaxPropertyLength) is { } url)
            props["url"] = JsonSerializer.SerializeToElement(url);
        return props;
    }

    /// <summary>Segment traits onto the contract's; a trait the contract would refuse is left out (and counted).</summary>
    internal static LeadTraits MapTraits(JsonElement? traits)
    {
        var company = traits is { } t && t.TryGetProperty("company", out var c) && c.ValueKind == JsonValueKind.Object ? c : (JsonElement?)null;
        return new LeadTraits
        {
            Email = Optional(Text(traits, "email"), "traits.email", EngagementEventRules.MaxEmailLength),
            JobTitle = Optional(Text(traits, "title") ?? Text(traits, "jobTitle"), "traits.title", EngagementEventRules.MaxTraitLength),
            CompanySize = CompanySize(traits, "employees") ?? CompanySize(company, "employee_count"),
            Industry = Optional(Text(traits, "industry") ?? Text(company, "industry"), "traits.industry", EngagementEventRules.MaxTraitLength),
            Country = Country(Text(traits, "address", "country") ?? Text(traits, "country")),
            BudgetAuthority = traits is { } b && b.TryGetProperty("budgetAuthority", out var ba) && ba.ValueKind is JsonValueKind.True or JsonValueKind.False
                ? ba.GetBoolean()
                : null,
        };
    }

    private static int? CompanySize(JsonElement? owner, string name)
    {
        if (owner is not { } o || !o.TryGetProperty(name, out var value)) return null;
        long size;
        if (value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out var number)) size = number;
        else if (value.ValueKind == JsonValueKind.String && long.TryParse(value.GetString(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var parsed)) size = parsed;
        else return Dropped<int?>("traits." + name);
        return size is >= EngagementEventRules.MinCompanySize and <= EngagementEventRules.MaxCompanySize ? (int)size : Dropped<int?>("traits." + name);
    }

    /// <summary>ISO 3166-1 alpha-2 in any case; "UK" (common, not ISO) is GB. Names are left out: no country data here.</summary>
    private static string? Country(string? value)
    {
        if (value is null) return null;
        var code = value.Trim().ToUpperInvariant();
        if (code == "UK") return "GB";
        return code.Length == EngagementEventRules.CountryLength && code.All(char.IsAsciiLetterUpper) ? code : Dropped<string>("traits.country");
    }

    /// <summary>Clock-skew correction as Segment does it: the client's clock is trusted for intervals, the server's for the instant.</summary>
    internal static DateTimeOffset OccurredAt(DateTimeOffset? timestamp, DateTimeOffset? sentAt, DateTimeOffset receivedAt) =>
        timestamp is not { } at ? receivedAt
        : sentAt is { } sent ? (at + (receivedAt - sent)).ToUniversalTime()
        : at.ToUniversalTime();

    /// <summary>
    /// The id of a message without a messageId: a digest of the source, the call and the message's own bytes, so a
    /// client that retries the same request gets the same id (and Ingestion counts it once).
    /// </summary>
    private static string DerivedId(JsonElement message, string call, string source)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(Encoding.UTF8.GetBytes(source + "\n" + call + "\n"));
        hash.AppendData(JsonMarshal.GetRawUtf8Value(message));
        return "trk-" + Convert.ToHexStringLower(hash.GetHashAndReset())[..32];
    }

    /// <summary>Runs the mapped event through the contract's parser, exactly as Ingestion will, and keeps its bytes.</summary>
    private static MapOutcome Check(EngagementEvent evt, MappingContext context)
    {
        var payload = JsonSerializer.SerializeToUtf8Bytes(evt, ContractJson.Options);
        if (EngagementEventParser.TryParse(payload, context.Window, out var parsed, out var reason)) return new MapOutcome.Mapped(parsed!, payload);
        return Refuse(TrackingErrors.InvalidField, FieldOf(reason!.Code), $"the event the message maps to is refused by the contract ({reason.Code}): {reason.Message}");
    }

    /// <summary>The Segment field behind a contract rejection.</summary>
    private static string FieldOf(string code) => code switch
    {
        RejectionCodes.MissingId or RejectionCodes.InvalidId => "messageId",
        RejectionCodes.InvalidLeadId or RejectionCodes.MissingIdentity => "userId",
        RejectionCodes.InvalidAnonymousId => "anonymousId",
        RejectionCodes.InvalidOccurredAt or RejectionCodes.OccurredAtOutOfRange => "timestamp",
        RejectionCodes.InvalidProperty => "properties",
        RejectionCodes.InvalidTraits or RejectionCodes.MissingTraits => "traits",
        RejectionCodes.MissingEventName => "event",
        RejectionCodes.InvalidIdentityLink => "previousId",
        RejectionCodes.MessageTooLarge => "properties",
        _ => "",
    };

    private static string? Optional(string? value, string field, int maxLength) =>
        value is null || EngagementEventRules.LabelProblem(value, maxLength) is null ? value : Dropped<string>(field);

    private static T? Dropped<T>(string field)
    {
        TrackingMetrics.ValueDropped(field);
        return default;
    }

    /// <summary>A string member (a number is read as its text, as Segment's libraries do for ids); empty counts as absent.</summary>
    private static bool TryText(JsonElement owner, string name, out string? value, out MapOutcome? error)
    {
        value = null;
        error = null;
        if (!owner.TryGetProperty(name, out var element) || element.ValueKind == JsonValueKind.Null) return true;
        switch (element.ValueKind)
        {
            case JsonValueKind.String:
                try
                {
                    value = element.GetString() is { Length: > 0 } text ? text : null;
                }
                catch (InvalidOperationException)
                {
                    error = Refuse(TrackingErrors.InvalidField, name, $"'{name}' contains a lone UTF-16 surrogate");
                    return false;
                }

                return true;
            case JsonValueKind.Number:
                value = element.GetRawText();
                return true;
            default:
                error = Refuse(TrackingErrors.InvalidField, name, $"'{name}' must be a string");
                return false;
        }
    }

    private static bool TryTime(JsonElement owner, string name, out DateTimeOffset? value, out MapOutcome? error)
    {
        value = null;
        if (!TryText(owner, name, out var text, out error)) return false;
        if (text is null) return true;
        if (!TryParseTime(text, out var parsed))
        {
            error = Refuse(TrackingErrors.InvalidField, name, $"'{name}' must be an ISO 8601 timestamp, e.g. 2026-11-23T10:00:00.000Z");
            return false;
        }

        value = parsed;
        return true;
    }

    /// <summary>ISO 8601 date-time; without an offset it is UTC (what Segment assumes), never the server's zone.</summary>
    public static bool TryParseTime(string text, out DateTimeOffset value)
    {
        value = default;
        return text.Length >= 19 && text[10] is 'T' or 't' or ' '
            && DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out value);
    }

    private static bool TryObject(JsonElement owner, string name, out JsonElement? value, out MapOutcome? error)
    {
        value = null;
        error = null;
        if (!owner.TryGetProperty(name, out var element) || element.ValueKind == JsonValueKind.Null) return true;
        if (element.ValueKind != JsonValueKind.Object)
        {
            error = Refuse(TrackingErrors.InvalidField, name, $"'{name}' must be a JSON object");
            return false;
        }

        value = element;
        return true;
    }

    /// <summary>A string at a path of object members, or null when any step is missing or not of that kind.</summary>
    private static string? Text(JsonElement? owner, params string[] path)
    {
        if (owner is not { } node) return null;
        foreach (var step in path)
        {
            if (node.ValueKind != JsonValueKind.Object || !node.TryGetProperty(step, out node)) return null;
        }

        if (node.ValueKind != JsonValueKind.String) return null;
        try
        {
            return node.GetString() is { Length: > 0 } text ? text : null;
        }
        catch (InvalidOperationException)
        {
            return null;
        }
    }

    private static MapOutcome.Refused Missing(string field, string message) => new(TrackingErrors.MissingField, field, message);

    private static MapOutcome.Refused Refuse(string code, string field, string message) => new(code, field, message);

    /// <summary>A mapped envelope or a refusal (a private two-way result for the per-call mappers).</summary>
    private readonly record struct Either(EngagementEvent? Event, MapOutcome? Refusal)
    {
        public static implicit operator Either(EngagementEvent evt) => new(evt, null);

        public static implicit operator Either(MapOutcome refusal) => new(null, refusal);
    }
}
