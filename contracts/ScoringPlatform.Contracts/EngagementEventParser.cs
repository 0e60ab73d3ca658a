using System.Text.Json;
using System.Text.RegularExpressions;
using System.Text.Unicode;

namespace ScoringPlatform.Contracts;

/// <summary>Why an engagement message was rejected; the code is stable, the message is for humans.</summary>
public sealed record RejectionReason(string Code, string Message)
{
    public override string ToString() => $"{Code}: {Message}";
}

/// <summary>The stable rejection codes (the <c>dlq-error-code</c> header); README's Contracts section lists them.</summary>
public static class RejectionCodes
{
    public const string EmptyMessage = "empty_message";
    public const string MessageTooLarge = "message_too_large";
    public const string InvalidUtf8 = "invalid_utf8";
    public const string MalformedJson = "malformed_json";
    public const string MissingField = "missing_field";
    public const string MissingId = "missing_id";
    public const string InvalidId = "invalid_id";
    public const string MissingType = "missing_type";
    public const string UnknownType = "unknown_type";
    public const string MissingLead = "missing_lead";
    public const string InvalidLeadId = "invalid_lead_id";
    public const string InvalidAnonymousId = "invalid_anonymous_id";
    public const string InvalidOccurredAt = "invalid_occurred_at";
    public const string OccurredAtOutOfRange = "occurred_at_out_of_range";
    public const string InvalidSource = "invalid_source";
    public const string InvalidCampaign = "invalid_campaign";
    public const string InvalidProperty = "invalid_property";
    public const string MissingTraits = "missing_traits";
    public const string InvalidTraits = "invalid_traits";
    public const string MissingEventName = "missing_event_name";
    public const string MissingIdentity = "missing_identity";

    /// <summary>An identity link the schema cannot refuse: <c>properties.previousId</c> equals <c>leadId</c>.</summary>
    public const string InvalidIdentityLink = "invalid_identity_link";

    /// <summary>
    /// A valid identity link that contradicts the links already made (set by Ingestion): the identity is linked to another
    /// lead, or the link would form a cycle (a lead merged into the one it names). Nothing of the message is stored.
    /// </summary>
    public const string IdentityConflict = "identity_conflict";

    /// <summary>Valid by the contract, yet PostgreSQL refused it deterministically (set by Ingestion, not the parser).</summary>
    public const string StoreRejected = "store_rejected";
}

/// <summary>Parses and validates raw engagement messages at the edge (Kafka, HTTP) by <see cref="EngagementEventRules"/>.</summary>
public static partial class EngagementEventParser
{
    /// <summary>Parses with the default time window around <paramref name="clock"/>'s now.</summary>
    public static bool TryParse(ReadOnlySpan<byte> utf8Json, TimeProvider clock, out EngagementEvent? evt, out RejectionReason? reason) =>
        TryParse(utf8Json, OccurredAtWindow.Default(clock), out evt, out reason);

    public static bool TryParse(ReadOnlySpan<byte> utf8Json, OccurredAtWindow window, out EngagementEvent? evt, out RejectionReason? reason)
    {
        evt = null;
        reason = CheckBytes(utf8Json);
        if (reason is not null) return false;

        try
        {
            evt = JsonSerializer.Deserialize<EngagementEvent>(utf8Json, ContractJson.Options);
        }
        catch (JsonException ex)
        {
            reason = FromJsonException(ex);
            return false;
        }

        if (evt is null)
        {
            reason = new(RejectionCodes.MalformedJson, "the message is JSON null");
            return false;
        }

        reason = Validate(evt, window);
        if (reason is not null)
        {
            evt = null;
            return false;
        }

        return true;
    }

    private static RejectionReason? CheckBytes(ReadOnlySpan<byte> utf8Json)
    {
        if (utf8Json.IsEmpty) return new(RejectionCodes.EmptyMessage, "the message has no body");
        if (utf8Json.Length > EngagementEventRules.MaxMessageBytes)
            return new(RejectionCodes.MessageTooLarge, $"the message has {utf8Json.Length} bytes; at most {EngagementEventRules.MaxMessageBytes} are accepted");
        // The JSON reader checks UTF-8 only in strings it decodes; skipped fields would pass unchecked.
        if (!Utf8.IsValid(utf8Json)) return new(RejectionCodes.InvalidUtf8, "the message is not valid UTF-8");
        return CheckWellFormed(utf8Json);
    }

    /// <summary>
    /// Syntax first: the deserializer stops at the first problem it meets, so a message cut off inside "type"
    /// would otherwise be blamed on the type rather than on being truncated.
    /// </summary>
    private static RejectionReason? CheckWellFormed(ReadOnlySpan<byte> utf8Json)
    {
        var reader = new Utf8JsonReader(utf8Json);
        try
        {
            while (reader.Read())
            {
            }

            return null;
        }
        catch (JsonException ex)
        {
            return new(RejectionCodes.MalformedJson, ex.Message);
        }
    }

    /// <summary>A value of the wrong type or shape is blamed on the field it is in (the reader's JSON path).</summary>
    private static RejectionReason FromJsonException(JsonException ex)
    {
        var message = ex.Message;
        if (message.Contains("missing required properties", StringComparison.Ordinal)) return new(RejectionCodes.MissingField, message);
        var path = ex.Path ?? "";
        var code = path switch
        {
            "$.id" => RejectionCodes.InvalidId,
            "$.type" => RejectionCodes.UnknownType,
            "$.leadId" => RejectionCodes.InvalidLeadId,
            "$.anonymousId" => RejectionCodes.InvalidAnonymousId,
            "$.occurredAt" => RejectionCodes.InvalidOccurredAt,
            "$.source" => RejectionCodes.InvalidSource,
            "$.campaign" => RejectionCodes.InvalidCampaign,
            _ when path.StartsWith("$.properties", StringComparison.Ordinal) => RejectionCodes.InvalidProperty,
            _ when path.StartsWith("$.traits", StringComparison.Ordinal) => RejectionCodes.InvalidTraits,
            _ => RejectionCodes.MalformedJson,
        };
        return new(code, message);
    }

    public static RejectionReason? Validate(EngagementEvent evt, OccurredAtWindow window)
    {
        if (string.IsNullOrWhiteSpace(evt.Id))
            return new(RejectionCodes.MissingId, "'id' must be a non-empty string (it is the idempotency key)");
        if (EngagementEventRules.IdentifierProblem(evt.Id) is { } idProblem)
            return new(RejectionCodes.InvalidId, "'id' " + idProblem);
        if (string.IsNullOrWhiteSpace(evt.Type))
            return new(RejectionCodes.MissingType, "'type' must be a non-empty string");
        if (!EngagementEventTypes.All.Contains(evt.Type))
            return new(RejectionCodes.UnknownType, $"'type' value '{Printable(evt.Type)}' is not a known engagement event type");
        if (evt.LeadId is null && evt.AnonymousId is null)
            return new(RejectionCodes.MissingLead, "one of 'leadId' or 'anonymousId' is required");
        if (evt.LeadId is not null && EngagementEventRules.IdentifierProblem(evt.LeadId) is { } leadProblem)
            return new(RejectionCodes.InvalidLeadId, "'leadId' " + leadProblem);
        if (evt.AnonymousId is not null && EngagementEventRules.IdentifierProblem(evt.AnonymousId, EngagementEventRules.MaxAnonymousIdLength) is { } anonProblem)
            return new(RejectionCodes.InvalidAnonymousId, "'anonymousId' " + anonProblem);
        if (!window.Contains(evt.OccurredAt))
            return new(RejectionCodes.OccurredAtOutOfRange,
                $"'occurredAt' {evt.OccurredAt:O} is outside [{window.Earliest:O}, {window.Latest:O}]");
        if (evt.Source is not null && EngagementEventRules.LabelProblem(evt.Source, EngagementEventRules.MaxLabelLength) is { } sourceProblem)
            return new(RejectionCodes.InvalidSource, "'source' " + sourceProblem);
        if (evt.Campaign is not null && EngagementEventRules.LabelProblem(evt.Campaign, EngagementEventRules.MaxLabelLength) is { } campaignProblem)
            return new(RejectionCodes.InvalidCampaign, "'campaign' " + campaignProblem);
        if (evt.Properties is not null && PropertiesProblem(evt.Properties) is { } propertyProblem)
            return new(RejectionCodes.InvalidProperty, propertyProblem);
        if (evt.Type == EngagementEventTypes.ProfileUpdated && evt.Traits is null)
            return new(RejectionCodes.MissingTraits, "'profile_updated' requires a 'traits' object");
        if (evt.Traits is not null && TraitsProblem(evt.Traits) is { } traitsProblem)
            return new(RejectionCodes.InvalidTraits, traitsProblem);
        if (evt.Type == EngagementEventTypes.CustomEvent && string.IsNullOrWhiteSpace(evt.Property("eventName")))
            return new(RejectionCodes.MissingEventName, "'custom_event' requires 'properties.eventName' (the action's name, e.g. \"Added to Cart\")");
        if (evt.Type == EngagementEventTypes.IdentityLinked && IdentityLinkProblem(evt) is { } linkProblem)
            return linkProblem;
        return null;
    }

    private static string? PropertiesProblem(Dictionary<string, JsonElement> properties)
    {
        foreach (var (name, value) in properties)
        {
            if (EngagementEventRules.StorableTextProblem(name) is { } nameProblem) return $"a property name {nameProblem}";
            if (EngagementEventRules.KnownStringProperties.TryGetValue(name, out var allowed))
            {
                if (value.ValueKind != JsonValueKind.String) return $"'properties.{name}' must be a string";
                if (EngagementEventRules.JsonValueProblem(value) is { } storable) return $"'properties.{name}' {storable}";
                var text = value.GetString()!;
                if (EngagementEventRules.LabelProblem(text, EngagementEventRules.MaxPropertyLength) is { } textProblem)
                    return $"'properties.{name}' {textProblem}";
                if (allowed is not null && !allowed.Contains(text, StringComparer.Ordinal))
                    return $"'properties.{name}' value '{text}' is not one of {string.Join(", ", allowed)}";
            }
            else if (EngagementEventRules.JsonValueProblem(value) is { } problem)
            {
                return $"'properties.{Printable(name)}' {problem}";
            }
        }

        return null;
    }

    private static RejectionReason? IdentityLinkProblem(EngagementEvent evt)
    {
        if (evt.LeadId is null)
            return new(RejectionCodes.MissingIdentity, "'identity_linked' requires 'leadId' (the lead the other identity belongs to)");
        var previousId = evt.Property("previousId");
        if (previousId is null && evt.AnonymousId is null)
            return new(RejectionCodes.MissingIdentity, "'identity_linked' requires 'anonymousId' or 'properties.previousId' (the identity to link)");
        // Both an anonymous id and a lead id: the shorter limit of the two holds.
        if (previousId is not null && EngagementEventRules.IdentifierProblem(previousId, EngagementEventRules.MaxAnonymousIdLength) is { } problem)
            return new(RejectionCodes.InvalidProperty, "'properties.previousId' " + problem);
        if (previousId == evt.LeadId)
            return new(RejectionCodes.InvalidIdentityLink, "'properties.previousId' is the lead itself; a lead cannot be linked to itself");
        return null;
    }

    private static string? TraitsProblem(LeadTraits traits)
    {
        if (traits.Email is { } email && EngagementEventRules.LabelProblem(email, EngagementEventRules.MaxEmailLength) is { } emailProblem)
            return "'traits.email' " + emailProblem;
        if (traits.JobTitle is { } title && EngagementEventRules.LabelProblem(title, EngagementEventRules.MaxTraitLength) is { } titleProblem)
            return "'traits.jobTitle' " + titleProblem;
        if (traits.Industry is { } industry && EngagementEventRules.LabelProblem(industry, EngagementEventRules.MaxTraitLength) is { } industryProblem)
            return "'traits.industry' " + industryProblem;
        if (traits.Country is { } country && !CountryCode().IsMatch(country))
            return "'traits.country' must be an ISO 3166-1 alpha-2 code (two letters)";
        if (traits.CompanySize is < EngagementEventRules.MinCompanySize or > EngagementEventRules.MaxCompanySize)
            return $"'traits.companySize' must be between {EngagementEventRules.MinCompanySize} and {EngagementEventRules.MaxCompanySize}";
        return null;
    }

    private static string Printable(string value) =>
        EngagementEventRules.TextProblem(value) is null ? value : Uri.EscapeDataString(value);

    [GeneratedRegex("^[A-Za-z]{2}$", RegexOptions.CultureInvariant)]
    private static partial Regex CountryCode();
}
