using System.Text;
using System.Text.Json;
using NJsonSchema;
using ScoringPlatform.Contracts;

namespace ScoringPlatform.Platform.UnitTests;

/// <summary>
/// The published JSON Schema and the parser are one contract: on every sample they agree, except the rules a
/// schema cannot express (<see cref="RuntimeOnlyCodes"/>), which only the parser enforces.
/// </summary>
public partial class EngagementContractTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 20, 0, 0, 0, TimeSpan.Zero);
    private static readonly OccurredAtWindow Window = OccurredAtWindow.At(Now, EngagementEventRules.DefaultFutureSkew, EngagementEventRules.DefaultOldestOccurredAt);

    /// <summary>The rules only the parser can check: byte size, UTF-8 validity, the time window relative to the consumer's clock.</summary>
    public static readonly IReadOnlySet<string> RuntimeOnlyCodes = new HashSet<string>
    {
        RejectionCodes.MessageTooLarge, RejectionCodes.InvalidUtf8, RejectionCodes.OccurredAtOutOfRange, RejectionCodes.InvalidIdentityLink,
    };

    private static readonly Lazy<JsonSchema> Schema = new(() =>
    {
        using var stream = typeof(EngagementEvent).Assembly.GetManifestResourceStream("engagement-event.schema.json")!;
        using var reader = new StreamReader(stream);
        return JsonSchema.FromJsonAsync(reader.ReadToEnd()).GetAwaiter().GetResult();
    });

    public sealed record Sample(string Name, byte[] Bytes, string? Code)
    {
        public override string ToString() => Name;
    }

    private static string Str(int length, char c = 'x') => new(c, length);

    /// <summary>A valid page view with some fields replaced (raw JSON values) or removed (null).</summary>
    private static string Json(params (string Name, string? Raw)[] overrides)
    {
        var fields = new List<(string Name, string Raw)>
        {
            ("id", "\"e-1\""), ("type", "\"page_viewed\""), ("leadId", "\"lead-1\""), ("occurredAt", "\"2026-11-01T10:00:00Z\""),
        };
        foreach (var (name, raw) in overrides)
        {
            var at = fields.FindIndex(f => f.Name == name);
            if (at >= 0) fields.RemoveAt(at);
            if (raw is not null) fields.Insert(at >= 0 ? at : fields.Count, (name, raw));
        }

        return "{" + string.Join(",", fields.Select(f => $"\"{f.Name}\":{f.Raw}")) + "}";
    }

    private static string Profile(string traits) => Json(("type", "\"profile_updated\""), ("traits", traits));

    private static readonly (string Name, string Json, string? Code)[] TextSamples =
    [
        ("valid page view", Json(), null),
        ("valid anonymous visitor", Json(("leadId", null), ("anonymousId", "\"cookie-9\"")), null),
        ("valid null leadId beside anonymousId", Json(("leadId", "null"), ("anonymousId", "\"cookie-9\"")), null),
        ("valid profile update", Profile("""{"email":"jane@acme.com","jobTitle":"VP Engineering","companySize":400,"industry":"software","country":"US","budgetAuthority":true}"""), null),
        ("valid lower-case country", Profile("""{"country":"us"}"""), null),
        ("valid largest company", Profile("""{"companySize":10000000}"""), null),
        ("valid empty company", Profile("""{"companySize":0}"""), null),
        ("valid longest email", Profile($$"""{"email":"{{Str(EngagementEventRules.MaxEmailLength)}}"}"""), null),
        ("valid known properties", Json(("properties", """{"category":"pricing","url":"/pricing?a=1 b","emailId":"em-1"}""")), null),
        ("valid form", Json(("type", "\"form_submitted\""), ("properties", """{"formType":"demo_request"}""")), null),
        ("valid nested properties", Json(("properties", """{"x":{"y":["a\u0001b",1,2.5,true,null,{"z":"\u00e9\ud83d\ude00"}]}}""")), null),
        ("valid null properties", Json(("properties", "null")), null),
        ("valid longest id", Json(("id", $"\"{Str(EngagementEventRules.MaxIdLength)}\"")), null),
        ("valid lead id with a surrogate pair and inner space", Json(("leadId", "\"lead \\ud83d\\ude00 1\"")), null),
        ("valid offset and fraction", Json(("occurredAt", "\"2026-11-01T10:00:00.1234567+05:30\"")), null),
        ("valid unknown top-level field", Json(("newField", "{\"a\":1}")), null),
        ("valid source and campaign", Json(("source", "\"website\""), ("campaign", "\"q4-launch\"")), null),
        ("valid longest url", Json(("properties", $$"""{"url":"{{Str(EngagementEventRules.MaxPropertyLength)}}"}""")), null),

        ("not JSON", "not json", RejectionCodes.MalformedJson),
        ("JSON null", "null", RejectionCodes.MalformedJson),
        ("JSON array", "[]", RejectionCodes.MalformedJson),
        ("truncated inside the type", """{"id":"e-1","type":"page_vie""", RejectionCodes.MalformedJson),
        ("truncated after a complete field", """{"id":"e-1","type":"page_viewed",""", RejectionCodes.MalformedJson),
        ("missing id", Json(("id", null)), RejectionCodes.MissingField),
        ("missing occurredAt", Json(("occurredAt", null)), RejectionCodes.MissingField),
        ("empty id", Json(("id", "\"\"")), RejectionCodes.MissingId),
        ("whitespace id", Json(("id", "\"   \"")), RejectionCodes.MissingId),
        ("null id", Json(("id", "null")), RejectionCodes.MissingId),
        ("overlong id", Json(("id", $"\"{Str(EngagementEventRules.MaxIdLength + 1)}\"")), RejectionCodes.InvalidId),
        ("id with leading space", Json(("id", "\" e-1\"")), RejectionCodes.InvalidId),
        ("id with NUL", Json(("id", "\"e\\u0000\"")), RejectionCodes.InvalidId),
        ("empty type", Json(("type", "\"\"")), RejectionCodes.MissingType),
        ("unknown type", Json(("type", "\"teleported\"")), RejectionCodes.UnknownType),
        ("numeric type", Json(("type", "5")), RejectionCodes.UnknownType),
        ("no lead", Json(("leadId", null)), RejectionCodes.MissingLead),
        ("lead id with NUL", Json(("leadId", "\"a\\u0000b\"")), RejectionCodes.InvalidLeadId),
        ("lead id of 10,000 characters", Json(("leadId", $"\"{Str(10_000)}\"")), RejectionCodes.InvalidLeadId),
        ("lead id with a lone surrogate", Json(("leadId", "\"a\\ud800b\"")), RejectionCodes.InvalidLeadId),
        ("lead id with a lone low surrogate", Json(("leadId", "\"a\\udc00\"")), RejectionCodes.InvalidLeadId),
        ("lead id with a control character", Json(("leadId", "\"lead\\u0001\"")), RejectionCodes.InvalidLeadId),
        ("lead id with a newline", Json(("leadId", "\"lead\\n1\"")), RejectionCodes.InvalidLeadId),
        ("whitespace-only lead id", Json(("leadId", "\"   \"")), RejectionCodes.InvalidLeadId),
        ("empty lead id", Json(("leadId", "\"\"")), RejectionCodes.InvalidLeadId),
        ("numeric lead id", Json(("leadId", "5")), RejectionCodes.InvalidLeadId),
        ("anonymous id with NUL", Json(("leadId", null), ("anonymousId", "\"c\\u0000\"")), RejectionCodes.InvalidAnonymousId),
        ("anonymous id whose stream key would be too long",
            Json(("leadId", null), ("anonymousId", $"\"{Str(EngagementEventRules.MaxAnonymousIdLength + 1)}\"")), RejectionCodes.InvalidAnonymousId),
        ("valid longest anonymous id", Json(("leadId", null), ("anonymousId", $"\"{Str(EngagementEventRules.MaxAnonymousIdLength)}\"")), null),
        ("occurredAt not a time", Json(("occurredAt", "\"yesterday\"")), RejectionCodes.InvalidOccurredAt),
        ("occurredAt without offset", Json(("occurredAt", "\"2026-11-01T10:00:00\"")), RejectionCodes.InvalidOccurredAt),
        ("occurredAt date only", Json(("occurredAt", "\"2026-11-01\"")), RejectionCodes.InvalidOccurredAt),
        ("occurredAt a number", Json(("occurredAt", "1700000000")), RejectionCodes.InvalidOccurredAt),
        ("source with NUL", Json(("source", "\"web\\u0000\"")), RejectionCodes.InvalidSource),
        ("overlong source", Json(("source", $"\"{Str(EngagementEventRules.MaxLabelLength + 1)}\"")), RejectionCodes.InvalidSource),
        ("campaign with a bell", Json(("campaign", "\"\\u0007\"")), RejectionCodes.InvalidCampaign),
        ("unknown page category", Json(("properties", """{"category":"checkout"}""")), RejectionCodes.InvalidProperty),
        ("unknown form type", Json(("type", "\"form_submitted\""), ("properties", """{"formType":"survey"}""")), RejectionCodes.InvalidProperty),
        ("numeric url", Json(("properties", """{"url":5}""")), RejectionCodes.InvalidProperty),
        ("overlong url", Json(("properties", $$"""{"url":"{{Str(EngagementEventRules.MaxPropertyLength + 1)}}"}""")), RejectionCodes.InvalidProperty),
        ("email id with a control character", Json(("properties", """{"emailId":"e\u0002"}""")), RejectionCodes.InvalidProperty),
        ("NUL deep in properties", Json(("properties", """{"x":{"y":["ok","a\u0000"]}}""")), RejectionCodes.InvalidProperty),
        ("lone surrogate in properties", Json(("properties", """{"x":"\udc00"}""")), RejectionCodes.InvalidProperty),
        ("NUL in a property name", Json(("properties", """{"a\u0000":1}""")), RejectionCodes.InvalidProperty),
        ("NUL in a nested property name", Json(("properties", """{"a":{"b\u0000":1}}""")), RejectionCodes.InvalidProperty),
        ("properties not an object", Json(("properties", "5")), RejectionCodes.InvalidProperty),
        ("properties an array", Json(("properties", """[{"category":"pricing"}]""")), RejectionCodes.InvalidProperty),
        // A name given twice keeps its last value, in the parser (PropertiesConverter) as in the schema's reader.
        ("valid last of a repeated property", Json(("properties", """{"category":"checkout","category":"pricing"}""")), null),
        ("invalid last of a repeated property", Json(("properties", """{"category":"pricing","category":"checkout"}""")), RejectionCodes.InvalidProperty),
        ("profile without traits", Json(("type", "\"profile_updated\"")), RejectionCodes.MissingTraits),
        ("profile with null traits", Profile("null"), RejectionCodes.MissingTraits),
        ("negative company size", Profile("""{"companySize":-1}"""), RejectionCodes.InvalidTraits),
        ("company size too large", Profile("""{"companySize":10000001}"""), RejectionCodes.InvalidTraits),
        ("fractional company size", Profile("""{"companySize":1.5}"""), RejectionCodes.InvalidTraits),
        ("company size as text", Profile("""{"companySize":"ten"}"""), RejectionCodes.InvalidTraits),
        ("company size as numeric text", Profile("""{"companySize":"400"}"""), RejectionCodes.InvalidTraits),
        ("overlong email", Profile($$"""{"email":"{{Str(EngagementEventRules.MaxEmailLength + 1)}}"}"""), RejectionCodes.InvalidTraits),
        ("job title with NUL", Profile("""{"jobTitle":"VP\u0000"}"""), RejectionCodes.InvalidTraits),
        ("overlong industry", Profile($$"""{"industry":"{{Str(EngagementEventRules.MaxTraitLength + 1)}}"}"""), RejectionCodes.InvalidTraits),
        ("three-letter country", Profile("""{"country":"USA"}"""), RejectionCodes.InvalidTraits),
        ("unknown trait", Profile("""{"favouriteColour":"blue"}"""), RejectionCodes.InvalidTraits),
        ("traits not an object", Profile("\"x\""), RejectionCodes.InvalidTraits),

        ("valid custom event", Json(("type", "\"custom_event\""), ("properties", """{"eventName":"Added to Cart","sku":"x-1"}""")), null),
        ("custom event without a name", Json(("type", "\"custom_event\""), ("properties", """{"sku":"x-1"}""")), RejectionCodes.MissingEventName),
        ("custom event name not a string", Json(("type", "\"custom_event\""), ("properties", """{"eventName":5}""")), RejectionCodes.InvalidProperty),
        ("valid link of an anonymous id", Json(("type", "\"identity_linked\""), ("anonymousId", "\"cookie-1\"")), null),
        ("valid link of a previous id", Json(("type", "\"identity_linked\""), ("properties", """{"previousId":"lead-0"}""")), null),
        ("link without the other identity", Json(("type", "\"identity_linked\"")), RejectionCodes.MissingIdentity),
        ("link without a lead", Json(("type", "\"identity_linked\""), ("leadId", null), ("anonymousId", "\"cookie-1\"")), RejectionCodes.MissingIdentity),
        ("link with an overlong previous id", Json(("type", "\"identity_linked\""), ("properties", $$"""{"previousId":"{{Str(EngagementEventRules.MaxAnonymousIdLength + 1)}}"}""")), RejectionCodes.InvalidProperty),
        ("link of a lead to itself", Json(("type", "\"identity_linked\""), ("properties", """{"previousId":"lead-1"}""")), RejectionCodes.InvalidIdentityLink),

        ("occurredAt in year 9999", Json(("occurredAt", "\"9999-12-31T00:00:00Z\"")), RejectionCodes.OccurredAtOutOfRange),
        ("occurredAt before 2000", Json(("occurredAt", "\"1999-12-31T23:59:59Z\"")), RejectionCodes.OccurredAtOutOfRange),
        ("occurredAt beyond the skew", Json(("occurredAt", "\"2026-11-21T00:00:01Z\"")), RejectionCodes.OccurredAtOutOfRange),
        ("message over the size limit", Json(("properties", $$"""{"padding":"{{Str(EngagementEventRules.MaxMessageBytes)}}"}""")), RejectionCodes.MessageTooLarge),
    ];

    private static List<Sample> Samples()
    {
        var samples = TextSamples.Select(s => new Sample(s.Name, Encoding.UTF8.GetBytes(s.Json), s.Code)).ToList();
        var invalidUtf8 = Encoding.UTF8.GetBytes(Json(("source", "\"web-site\"")));
        invalidUtf8[Array.IndexOf(invalidUtf8, (byte)'-', invalidUtf8.Length - 20)] = 0xC3; // a lead byte followed by ASCII
        samples.Add(new Sample("invalid UTF-8 in a string", invalidUtf8, RejectionCodes.InvalidUtf8));
        samples.Add(new Sample("empty message", [], RejectionCodes.EmptyMessage));
        return samples;
    }

    public static TheoryData<Sample> Corpus() => new(Samples());

    [Fact]
    public void The_corpus_covers_many_kinds_of_valid_and_invalid_messages()
    {
        var samples = Samples();
        samples.Should().HaveCountGreaterThanOrEqualTo(40);
        samples.Count(s => s.Code is null).Should().BeGreaterThanOrEqualTo(15);
        samples.Select(s => s.Code).Where(c => c is not null).Distinct().Should().HaveCountGreaterThanOrEqualTo(18);
    }

    [Theory]
    [MemberData(nameof(Corpus))]
    public void Schema_and_parser_agree_on_every_sample_except_the_runtime_only_rules(Sample sample)
    {
        var parsed = EngagementEventParser.TryParse(sample.Bytes, Window, out _, out var reason);
        var schemaErrors = SchemaErrors(sample.Bytes);

        if (sample.Code is null)
        {
            parsed.Should().BeTrue(reason?.ToString());
            schemaErrors.Should().BeEmpty();
        }
        else if (RuntimeOnlyCodes.Contains(sample.Code))
        {
            parsed.Should().BeFalse();
            reason!.Code.Should().Be(sample.Code);
            schemaErrors.Should().BeEmpty("the schema cannot express this rule, so only the parser enforces it");
        }
        else
        {
            parsed.Should().BeFalse();
            reason!.Code.Should().Be(sample.Code, reason.Message);
            schemaErrors.Should().NotBeEmpty($"the parser rejects it ({reason})");
        }
    }

    /// <summary>Validation errors of the published schema; text that is not JSON at all counts as one.</summary>
    private static List<string> SchemaErrors(byte[] bytes)
    {
        var text = Encoding.UTF8.GetString(bytes);
        try
        {
            // Newtonsoft (under NJsonSchema) reads a lone surrogate escape as U+FFFD; carry the real code unit
            // through, so the schema's patterns judge what the producer sent.
            var marked = SurrogateEscape().Replace(text, m => $"<surrogate:{m.Groups[1].Value}>");
            using var reader = new Newtonsoft.Json.JsonTextReader(new StringReader(marked)) { DateParseHandling = Newtonsoft.Json.DateParseHandling.None };
            var token = Newtonsoft.Json.Linq.JToken.ReadFrom(reader);
            foreach (var value in (token is Newtonsoft.Json.Linq.JContainer container ? container.DescendantsAndSelf() : [token]).OfType<Newtonsoft.Json.Linq.JValue>().Where(v => v.Value is string))
            {
                value.Value = SurrogateMarker().Replace((string)value.Value!, m => ((char)Convert.ToInt32(m.Groups[1].Value, 16)).ToString());
            }

            return Schema.Value.Validate(token).Select(e => e.ToString()).ToList();
        }
        catch (Newtonsoft.Json.JsonReaderException ex)
        {
            return [ex.Message];
        }
    }

    [System.Text.RegularExpressions.GeneratedRegex(@"\\u([dD][89a-fA-F][0-9a-fA-F]{2})")]
    private static partial System.Text.RegularExpressions.Regex SurrogateEscape();

    [System.Text.RegularExpressions.GeneratedRegex("<surrogate:([0-9a-fA-F]{4})>")]
    private static partial System.Text.RegularExpressions.Regex SurrogateMarker();

    [Fact]
    public void Properties_read_into_one_document_serialise_back_to_the_same_json()
    {
        const string properties = """{"url":"/pricing","n":12.50,"flag":true,"none":null,"nested":{"list":[1,"a\u00e9",{"k":false}]},"url":"/demo"}""";
        EngagementEventParser.TryParse(Encoding.UTF8.GetBytes(Json(("properties", properties))), Window, out var evt, out var reason)
            .Should().BeTrue(reason?.ToString());

        evt!.Property("url").Should().Be("/demo", "the last of a repeated name wins");
        evt.Property("n").Should().Be("12.50", "a number property reads as its JSON text");
        var written = JsonSerializer.SerializeToElement(evt, ContractJson.Options).GetProperty("properties");
        JsonElement.DeepEquals(written, JsonDocument.Parse("""{"url":"/demo","n":12.50,"flag":true,"none":null,"nested":{"list":[1,"a\u00e9",{"k":false}]}}""").RootElement)
            .Should().BeTrue(written.GetRawText());
    }

    [Fact]
    public void The_longest_anonymous_id_makes_a_stream_key_the_api_accepts_as_a_lead_id()
    {
        var key = new EngagementEvent
        {
            Id = "e", Type = EngagementEventTypes.PageViewed, OccurredAt = DateTimeOffset.UnixEpoch,
            AnonymousId = new string('a', EngagementEventRules.MaxAnonymousIdLength),
        }.StreamKey;
        key.Length.Should().Be(EngagementEventRules.MaxIdLength);
        EngagementEventRules.IdentifierProblem(key).Should().BeNull();
    }

    [Fact]
    public void The_schema_states_the_same_limits_as_the_rules()
    {
        using var stream = typeof(EngagementEvent).Assembly.GetManifestResourceStream("engagement-event.schema.json")!;
        using var doc = JsonDocument.Parse(stream);
        var root = doc.RootElement;
        var fields = root.GetProperty("properties");
        int MaxLength(JsonElement e) => e.GetProperty("maxLength").GetInt32();

        foreach (var id in new[] { "id", "leadId" }) MaxLength(fields.GetProperty(id)).Should().Be(EngagementEventRules.MaxIdLength, id);
        MaxLength(fields.GetProperty("anonymousId")).Should().Be(EngagementEventRules.MaxAnonymousIdLength);
        foreach (var label in new[] { "source", "campaign" }) MaxLength(fields.GetProperty(label)).Should().Be(EngagementEventRules.MaxLabelLength, label);

        var known = fields.GetProperty("properties").GetProperty("properties");
        known.EnumerateObject().Select(p => p.Name).Should().BeEquivalentTo(EngagementEventRules.KnownStringProperties.Keys);
        foreach (var (name, allowed) in EngagementEventRules.KnownStringProperties)
        {
            if (name == "previousId") MaxLength(known.GetProperty(name)).Should().Be(EngagementEventRules.MaxAnonymousIdLength, "it is an identifier");
            else if (allowed is null) MaxLength(known.GetProperty(name)).Should().Be(EngagementEventRules.MaxPropertyLength, name);
            else known.GetProperty(name).GetProperty("enum").EnumerateArray().Select(e => e.GetString()).Should().Equal(allowed, name);
        }

        var traits = fields.GetProperty("traits").GetProperty("properties");
        MaxLength(traits.GetProperty("email")).Should().Be(EngagementEventRules.MaxEmailLength);
        MaxLength(traits.GetProperty("jobTitle")).Should().Be(EngagementEventRules.MaxTraitLength);
        MaxLength(traits.GetProperty("industry")).Should().Be(EngagementEventRules.MaxTraitLength);
        traits.GetProperty("companySize").GetProperty("minimum").GetInt32().Should().Be(EngagementEventRules.MinCompanySize);
        traits.GetProperty("companySize").GetProperty("maximum").GetInt32().Should().Be(EngagementEventRules.MaxCompanySize);

        fields.GetProperty("occurredAt").GetProperty("pattern").GetString().Should().Be(Rfc3339TimestampConverter.Pattern);

        // The runtime-only rules are stated in prose, with the defaults the consumer uses.
        var description = root.GetProperty("description").GetString()!;
        description.Should().Contain($"{EngagementEventRules.MaxMessageBytes} bytes")
            .And.Contain(EngagementEventRules.DefaultOldestOccurredAt.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture))
            .And.Contain($"{EngagementEventRules.DefaultFutureSkew.TotalDays:0} day");
        foreach (var code in RuntimeOnlyCodes) description.Should().Contain(code);
    }
}
