using System.Collections.Concurrent;
using System.Text.Json;
using Newtonsoft.Json.Linq;
using NJsonSchema;
using ScoringPlatform.Contracts;
using ScoringPlatform.Leads.ReadModel;
using ScoringPlatform.Scoring;
using ScoringPlatform.Scoring.Lifecycle;
using ScoringPlatform.TestSupport;

namespace ScoringPlatform.Platform.UnitTests;

/// <summary>
/// The lifecycle message schemas (contracts/schema/lifecycle) and the messages the projection publishes are one
/// contract: every message the pure lifecycle library produces in a set of scenarios, mapped by
/// <see cref="LeadScoreProjection.ToMessage"/> and serialised as the outbox does, validates against its type's schema,
/// and messages that break a rule of the type do not.
/// </summary>
public class LifecycleContractTests
{
    private const string CommonFile = "lifecycle-message.common.json";
    private const string LeadId = "lead-42";
    private static readonly DateTimeOffset T0 = new(2026, 3, 2, 9, 0, 0, TimeSpan.Zero);
    private static readonly ScoringModel Model = ScoringModel.Default;
    private static readonly string[] MqlTiers = ["MqlLight", "Mql", "HotMql"];

    private static readonly string SchemaDirectory = Path.Combine(TestEnvironment.RepositoryRoot, "contracts", "schema", "lifecycle");
    private static readonly ConcurrentDictionary<string, JsonSchema> Schemas = new();

    private static JsonSchema SchemaOf(string type) => Schemas.GetOrAdd(type, t =>
        JsonSchema.FromFileAsync(Path.Combine(SchemaDirectory, $"{t}.schema.json")).GetAwaiter().GetResult());

    // ---- the published messages of each scenario ----

    private static readonly LeadProfile GoodFit = new("ana@acme.com", "VP Marketing", 500, null, null, null);

    private static LeadInput Engagement(string id, string type, DateTimeOffset at, string? category = null) =>
        new EngagementInput(new ScoringEvent(id, type, at, category, id));

    private static LeadInput Demo(string id, DateTimeOffset at) => Engagement(id, "form_submitted", at, "demo_request");

    private static LeadInput Profile(string id, DateTimeOffset at, LeadProfile profile) => new ProfileInput(id, at, profile);

    private static LeadInput Sales(SalesActionKind kind, string key, DateTimeOffset at, string? reason = null, decimal? amount = null) =>
        new SalesInput(new SalesAction(kind, "rep@acme.com", at, key, reason, null, amount));

    /// <summary>A lead's history as the projection sees it: inputs recorded one by one, the scheduler waking the lead in between.</summary>
    private sealed class Lead
    {
        private readonly LeadLifecycle _lifecycle = LeadLifecycle.Create(Model);
        public List<LeadLifecycleMessage> Published { get; } = [];

        public Lead Record(params LeadInput[] inputs)
        {
            foreach (var input in inputs) Publish(LeadTimeline.Record(_lifecycle, input, Model));
            return this;
        }

        /// <summary>Wakes the lead at each due instant up to <paramref name="until"/> (null: until nothing more is due).</summary>
        public Lead RunScheduler(DateTimeOffset? until = null)
        {
            while (LeadTimeline.NextDue(_lifecycle, Model) is { } due && (until is null || due <= until))
            {
                Publish(LeadTimeline.AdvanceTo(_lifecycle, due, Model));
            }

            if (until is { } end) Publish(LeadTimeline.AdvanceTo(_lifecycle, end, Model));
            return this;
        }

        // The order LeadScoreProjection.RaiseSideEffects enqueues them: retractions, then the new transitions.
        private void Publish(LifecycleUpdate update)
        {
            foreach (var t in update.Superseded)
                Published.Add(LeadScoreProjection.ToMessage(LeadId, t, LifecycleMessageTypes.TransitionRetracted, retraction: true));
            foreach (var t in update.Emitted)
                Published.Add(LeadScoreProjection.ToMessage(LeadId, t, LeadScoreProjection.MessageType(t.Kind), retraction: false));
        }
    }

    private static Dictionary<string, Func<Lead>> Scenarios() => new()
    {
        // Fit 25 + a demo request: a Hot MQL (4 h SLA); no sales action: breach, the hot signal ages out (tier drop), decay recycles it.
        ["hot MQL left alone decays out"] = () => new Lead()
            .Record(Profile("p", T0, GoodFit), Demo("demo", T0))
            .RunScheduler(),
        // The scheduler published the day-30 decay exit; a pricing view of day 20 arrives late: the exit is retracted.
        ["late event retracts a published exit"] = () => new Lead()
            .Record(Profile("p", T0, GoodFit), Demo("demo", T0))
            .RunScheduler(T0.AddDays(40))
            .Record(Engagement("late-pricing", "page_viewed", T0.AddDays(20), "pricing")),
        ["sales accept, qualify, convert"] = () => new Lead()
            .Record(Profile("p", T0, GoodFit), Demo("demo", T0),
                Sales(SalesActionKind.Accept, "k-accept", T0.AddHours(1)),
                Sales(SalesActionKind.Qualify, "k-qualify", T0.AddDays(2), "budget confirmed"),
                Sales(SalesActionKind.Convert, "k-convert", T0.AddDays(9), amount: 12_500.50m)),
        ["sales convert without an amount"] = () => new Lead()
            .Record(Profile("p", T0, GoodFit), Demo("demo", T0),
                Sales(SalesActionKind.Accept, "k-accept", T0.AddHours(1)),
                Sales(SalesActionKind.Convert, "k-convert", T0.AddDays(1))),
        // Plain MQL (fit 25 + pricing + webinar), rejected by sales, then re-engaging: a reactivated MQL from Recycled.
        ["sales reject, then re-engagement"] = () => new Lead()
            .Record(Profile("p", T0, GoodFit), Engagement("pricing", "page_viewed", T0, "pricing"), Engagement("webinar", "webinar_attended", T0),
                Sales(SalesActionKind.Reject, "k-reject", T0.AddHours(2), "wrong contact"),
                Demo("demo", T0.AddDays(3))),
        ["sales recycle an SQL"] = () => new Lead()
            .Record(Profile("p", T0, GoodFit), Demo("demo", T0),
                Sales(SalesActionKind.Accept, "k-accept", T0.AddHours(1)),
                Sales(SalesActionKind.Qualify, "k-qualify", T0.AddDays(1)),
                Sales(SalesActionKind.Recycle, "k-recycle", T0.AddDays(5), "no budget this year")),
        ["sales disqualify an MQL"] = () => new Lead()
            .Record(Profile("p", T0, GoodFit), Demo("demo", T0), Sales(SalesActionKind.Disqualify, "k-dq", T0.AddHours(1), "student")),
        // A competitor email disqualifies the MQL by hard rule; the corrected email lifts it and the lead qualifies again.
        ["hard rule disqualifies, correction lifts it"] = () => new Lead()
            .Record(Profile("p", T0, GoodFit), Demo("demo", T0),
                Profile("wrong-email", T0.AddHours(1), new LeadProfile("ana@rivalscore.io", null, null, null, null, null)),
                Profile("corrected", T0.AddHours(5), new LeadProfile("ana@acme.com", null, null, null, null, null))),
        ["personal email disqualifies a new lead"] = () => new Lead()
            .Record(Engagement("view", "page_viewed", T0, "pricing"), Profile("gmail", T0.AddHours(1), new LeadProfile("x@gmail.com", null, null, null, null, null))),
        // A Hot MQL whose profile loses its fit within the 4 h window: demoted to MQL-Light ("nurture, no sales touch"), so
        // its deadline is dropped and no breach follows.
        ["Hot MQL demoted to MQL-Light drops its deadline"] = () => new Lead()
            .Record(Profile("p", T0, GoodFit), Demo("demo", T0), Engagement("cs", "form_submitted", T0.AddMinutes(1), "contact_sales"),
                Profile("p2", T0.AddHours(1), new LeadProfile(null, "Analyst", 3, null, null, null)))
            .RunScheduler(T0.AddHours(30)),
        // Hand-raisers without fit: MQL-Light (no SLA); the profile brings fit: promoted to Hot MQL.
        ["MQL-Light promoted by a profile update"] = () => new Lead()
            .Record(Demo("demo", T0), Engagement("cs", "form_submitted", T0, "contact_sales"), Profile("fit1", T0.AddDays(1), GoodFit)),
    };

    private static IEnumerable<(string Scenario, LeadLifecycleMessage Message)> AllMessages() =>
        Scenarios().SelectMany(s => s.Value().Published.Select(m => (s.Key, m)));

    public sealed record Sample(string Name, string Type, string Json)
    {
        public override string ToString() => Name;
    }

    public static TheoryData<Sample> Published()
    {
        var data = new TheoryData<Sample>();
        foreach (var (scenario, message) in AllMessages())
            data.Add(new Sample($"{scenario}: {message.Type} {message.FromStage}->{message.ToStage} at {message.OccurredAt:O}", message.Type, Serialise(message)));
        return data;
    }

    private static string Serialise(LeadLifecycleMessage message) => JsonSerializer.Serialize(message, ContractJson.Options);

    private static JObject Parse(string json)
    {
        // Timestamps stay strings, so the schema's pattern judges the text the producer wrote.
        using var reader = new Newtonsoft.Json.JsonTextReader(new StringReader(json)) { DateParseHandling = Newtonsoft.Json.DateParseHandling.None };
        return JObject.Load(reader);
    }

    private static List<string> Errors(string type, JToken message) => SchemaOf(type).Validate(message).Select(e => e.ToString()).ToList();

    // ---- files ----

    [Fact]
    public void Every_current_message_type_has_a_schema_file_and_there_are_no_others()
    {
        var files = Directory.GetFiles(SchemaDirectory).Select(Path.GetFileName).ToList();

        files.Should().BeEquivalentTo(
            LifecycleMessageTypes.Current.Select(t => $"{t}.schema.json").Append(CommonFile).Append("README.md"));
        files.Should().NotContain($"{LifecycleMessageTypes.MqlExited}.schema.json", "MqlExited is legacy and no longer produced");
    }

    [Fact]
    public void Every_transition_kind_maps_to_a_current_message_type_with_a_schema()
    {
        var mapped = Enum.GetValues<TransitionKind>().Select(LeadScoreProjection.MessageType).ToList();

        mapped.Should().OnlyHaveUniqueItems().And.BeSubsetOf(LifecycleMessageTypes.Current);
        mapped.Append(LifecycleMessageTypes.TransitionRetracted).Should().BeEquivalentTo(LifecycleMessageTypes.Current);
    }

    [Fact]
    public void The_common_definitions_state_the_library_enums_and_the_timestamp_pattern_of_the_converter()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(SchemaDirectory, CommonFile)));
        var definitions = doc.RootElement.GetProperty("definitions");
        string?[] Enum(string name) => definitions.GetProperty(name).GetProperty("enum").EnumerateArray().Select(e => e.GetString()).ToArray();

        Enum("stage").Should().Equal(System.Enum.GetNames<LifecycleStage>());
        Enum("tier").Should().Equal(System.Enum.GetNames<MqlTier>());
        Enum("causeKind").Should().Equal(System.Enum.GetNames<CauseKind>());
        definitions.GetProperty("timestamp").GetProperty("pattern").GetString().Should().Be(Rfc3339TimestampConverter.Pattern);
    }

    [Theory]
    [MemberData(nameof(CurrentTypes))]
    public void Each_schema_pins_its_own_type_and_names_only_message_fields(string type)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(SchemaDirectory, $"{type}.schema.json")));
        var root = doc.RootElement;
        var fields = root.GetProperty("properties");

        root.GetProperty("$schema").GetString().Should().Be("http://json-schema.org/draft-07/schema#");
        root.GetProperty("additionalProperties").GetBoolean().Should().BeFalse();
        fields.GetProperty("type").GetProperty("enum").EnumerateArray().Select(e => e.GetString()).Should().Equal(type);
        var messageFields = typeof(LeadLifecycleMessage).GetProperties().Select(p => JsonNamingPolicy.CamelCase.ConvertName(p.Name));
        fields.EnumerateObject().Select(p => p.Name).Should().BeSubsetOf(messageFields);
        root.GetProperty("required").EnumerateArray().Select(e => e.GetString()).Should().BeSubsetOf(fields.EnumerateObject().Select(p => p.Name));
    }

    public static TheoryData<string> CurrentTypes() => new(LifecycleMessageTypes.Current);

    // ---- the real messages ----

    [Fact]
    public void The_scenarios_publish_every_current_message_type()
    {
        var messages = AllMessages().Select(x => x.Message).ToList();

        messages.Select(m => m.Type).Distinct().Should().BeEquivalentTo(LifecycleMessageTypes.Current);
        // Both shapes of the types that have two: score-driven and sales recycling, hard-rule and sales disqualification.
        messages.Where(m => m.Type == LifecycleMessageTypes.LeadRecycled).Select(m => m.Cause!.Kind).Should().Contain(["Threshold", "SalesAction"]);
        messages.Where(m => m.Type == LifecycleMessageTypes.LeadDisqualified).Select(m => m.Cause!.Kind).Should().Contain(["HardRule", "SalesAction"]);
        messages.Where(m => m.Type == LifecycleMessageTypes.MqlCrossed).Select(m => m.Reactivated).Should().Contain([true, false]);
        messages.Where(m => m.Type == LifecycleMessageTypes.MqlTierChanged).Select(m => m.TriggeringEventId is null).Should().Contain([true, false]);
        messages.Where(m => m.Type == LifecycleMessageTypes.LeadConverted).Select(m => m.Amount is null).Should().Contain([true, false]);
        messages.Should().NotContain(m => m.Type == LifecycleMessageTypes.SlaBreached && m.Tier == "MqlLight", "MQL-Light is nurture, no sales touch");
        messages.Where(m => m.Type == LifecycleMessageTypes.MqlTierChanged && m.Tier == "MqlLight").Should().NotBeEmpty()
            .And.OnlyContain(m => m.SlaDeadline == null, "a demotion to MQL-Light starts no deadline");
    }

    [Theory]
    [MemberData(nameof(Published))]
    public void A_published_message_validates_against_its_type_schema(Sample sample)
    {
        Errors(sample.Type, Parse(sample.Json)).Should().BeEmpty(sample.Json);
    }

    [Theory]
    [MemberData(nameof(Published))]
    public void A_published_message_fails_every_other_type_schema(Sample sample)
    {
        foreach (var other in LifecycleMessageTypes.Current.Where(t => t != sample.Type))
        {
            Errors(other, Parse(sample.Json)).Should().NotBeEmpty($"a {sample.Type} message is not a {other}");
        }
    }

    // ---- negative cases: a real message, one rule broken ----

    private static JObject Real(string type, Func<LeadLifecycleMessage, bool>? where = null)
    {
        var message = AllMessages().Select(x => x.Message).First(m => m.Type == type && (where?.Invoke(m) ?? true));
        var json = Parse(Serialise(message));
        Errors(type, json).Should().BeEmpty("the unbroken message is valid, so the broken rule is what fails it");
        return json;
    }

    public static TheoryData<string> BrokenCases() => new(Broken.Keys);

    /// <summary>Each case: the type's schema, where the schema reports the error ("#/": a rule across fields), the broken message.</summary>
    private static readonly Dictionary<string, (string Type, string Where, Func<JObject> Make)> Broken = new()
    {
        ["SalesAccepted without actor"] = (LifecycleMessageTypes.SalesAccepted, "#/actor", () => Without(Real(LifecycleMessageTypes.SalesAccepted), "actor")),
        ["MqlCrossed without triggeringEventId"] = (LifecycleMessageTypes.MqlCrossed, "#/triggeringEventId", () => Without(Real(LifecycleMessageTypes.MqlCrossed), "triggeringEventId")),
        ["LeadConverted without messageId"] = (LifecycleMessageTypes.LeadConverted, "#/messageId", () => Without(Real(LifecycleMessageTypes.LeadConverted), "messageId")),
        ["TransitionRetracted without transitionId"] = (LifecycleMessageTypes.TransitionRetracted, "#/transitionId", () => Without(Real(LifecycleMessageTypes.TransitionRetracted), "transitionId")),
        ["SalesAccepted from Lead"] = (LifecycleMessageTypes.SalesAccepted, "#/fromStage", () => With(Real(LifecycleMessageTypes.SalesAccepted), ("fromStage", "Lead"), ("fromTier", "None"))),
        ["SalesAccepted from MQL-Light"] = (LifecycleMessageTypes.SalesAccepted, "#/fromTier", () => With(Real(LifecycleMessageTypes.SalesAccepted), ("fromTier", "MqlLight"))),
        ["LeadConverted from Mql"] = (LifecycleMessageTypes.LeadConverted, "#/fromStage", () => With(Real(LifecycleMessageTypes.LeadConverted), ("fromStage", "Mql"), ("fromTier", "HotMql"))),
        ["LeadConverted to Sql"] = (LifecycleMessageTypes.LeadConverted, "#/toStage", () => With(Real(LifecycleMessageTypes.LeadConverted), ("toStage", "Sql"))),
        ["LeadConverted with a negative amount"] = (LifecycleMessageTypes.LeadConverted, "#/amount", () => With(Real(LifecycleMessageTypes.LeadConverted, m => m.Amount is not null), ("amount", -1))),
        ["MqlCrossed with tier None"] = (LifecycleMessageTypes.MqlCrossed, "#/", () => With(Real(LifecycleMessageTypes.MqlCrossed), ("tier", "None"))),
        ["MqlCrossed to Sal"] = (LifecycleMessageTypes.MqlCrossed, "#/toStage", () => With(Real(LifecycleMessageTypes.MqlCrossed), ("toStage", "Sal"), ("tier", "None"))),
        ["MqlCrossed from Recycled not reactivated"] = (LifecycleMessageTypes.MqlCrossed, "#/", () => With(Real(LifecycleMessageTypes.MqlCrossed, m => m.FromStage == "Recycled"), ("reactivated", false))),
        ["MqlTierChanged to the same tier"] = (LifecycleMessageTypes.MqlTierChanged, "#/", () => With(Real(LifecycleMessageTypes.MqlTierChanged), ("tier", Real(LifecycleMessageTypes.MqlTierChanged)["fromTier"]!.Value<string>()))),
        ["SlaBreached with a triggering event"] = (LifecycleMessageTypes.SlaBreached, "#/triggeringEventId", () => With(Real(LifecycleMessageTypes.SlaBreached), ("triggeringEventId", "e-1"))),
        ["SlaBreached caused by a threshold"] = (LifecycleMessageTypes.SlaBreached, "#/cause.kind", () => With(Real(LifecycleMessageTypes.SlaBreached), ("cause", new JObject { ["kind"] = "Threshold", ["id"] = "threshold" }))),
        ["score-driven LeadRecycled with an actor"] = (LifecycleMessageTypes.LeadRecycled, "#/", () => With(Real(LifecycleMessageTypes.LeadRecycled, m => m.Cause!.Kind == "Threshold"), ("actor", "rep@acme.com"))),
        ["sales LeadRecycled without an actor"] = (LifecycleMessageTypes.LeadRecycled, "#/", () => Without(Real(LifecycleMessageTypes.LeadRecycled, m => m.Cause!.Kind == "SalesAction"), "actor")),
        ["hard-rule LeadDisqualified from Converted"] = (LifecycleMessageTypes.LeadDisqualified, "#/fromStage", () => With(Real(LifecycleMessageTypes.LeadDisqualified, m => m.Cause!.Kind == "HardRule"), ("fromStage", "Converted"), ("fromTier", "None"))),
        ["DisqualificationLifted to Mql"] = (LifecycleMessageTypes.DisqualificationLifted, "#/toStage", () => With(Real(LifecycleMessageTypes.DisqualificationLifted), ("toStage", "Mql"), ("tier", "Mql"))),
        ["unknown stage"] = (LifecycleMessageTypes.TransitionRetracted, "#/toStage", () => With(Real(LifecycleMessageTypes.TransitionRetracted), ("toStage", "Won"))),
        ["unknown tier"] = (LifecycleMessageTypes.MqlCrossed, "#/", () => With(Real(LifecycleMessageTypes.MqlCrossed), ("tier", "Warm"))),
        ["unknown cause kind"] = (LifecycleMessageTypes.TransitionRetracted, "#/cause.kind", () => With(Real(LifecycleMessageTypes.TransitionRetracted), ("cause", new JObject { ["kind"] = "Magic", ["id"] = "x" }))),
        ["retraction whose reason is not a retraction's"] = (LifecycleMessageTypes.TransitionRetracted, "#/reason", () => With(Real(LifecycleMessageTypes.TransitionRetracted), ("reason", "score fell"))),
        ["occurredAt without offset"] = (LifecycleMessageTypes.SalesQualified, "#/occurredAt", () => With(Real(LifecycleMessageTypes.SalesQualified), ("occurredAt", "2026-03-04T09:00:00"))),
        ["occurredAt with a space"] = (LifecycleMessageTypes.SalesQualified, "#/occurredAt", () => With(Real(LifecycleMessageTypes.SalesQualified), ("occurredAt", "2026-03-04 09:00:00Z"))),
        ["occurredAt as a number"] = (LifecycleMessageTypes.SalesQualified, "#/occurredAt", () => With(Real(LifecycleMessageTypes.SalesQualified), ("occurredAt", 1772614800))),
        ["slaDeadline date only"] = (LifecycleMessageTypes.MqlCrossed, "#/slaDeadline", () => With(Real(LifecycleMessageTypes.MqlCrossed, m => m.SlaDeadline is not null), ("slaDeadline", "2026-03-02"))),
        ["messageId not a uuid"] = (LifecycleMessageTypes.SalesQualified, "#/messageId", () => With(Real(LifecycleMessageTypes.SalesQualified), ("messageId", "msg-1"))),
        ["transitionId not a transition hash"] = (LifecycleMessageTypes.SalesQualified, "#/transitionId", () => With(Real(LifecycleMessageTypes.SalesQualified), ("transitionId", "t1"))),
        ["unknown property"] = (LifecycleMessageTypes.SalesQualified, "#/priority", () => With(Real(LifecycleMessageTypes.SalesQualified), ("priority", "high"))),
        ["unknown property in the cause"] = (LifecycleMessageTypes.SalesQualified, "#/cause", () => With(Real(LifecycleMessageTypes.SalesQualified), ("cause", new JObject { ["kind"] = "SalesAction", ["id"] = "qualify", ["by"] = "x" }))),
        ["amount on a non-conversion"] = (LifecycleMessageTypes.SalesQualified, "#/amount", () => With(Real(LifecycleMessageTypes.SalesQualified), ("amount", 10))),
        ["type of another message"] = (LifecycleMessageTypes.SalesQualified, "#/type", () => With(Real(LifecycleMessageTypes.SalesQualified), ("type", LifecycleMessageTypes.SalesAccepted))),
        ["legacy MqlExited type"] = (LifecycleMessageTypes.LeadRecycled, "#/type", () => With(Real(LifecycleMessageTypes.LeadRecycled), ("type", LifecycleMessageTypes.MqlExited))),
        ["modelVersion as text"] = (LifecycleMessageTypes.SalesQualified, "#/modelVersion", () => With(Real(LifecycleMessageTypes.SalesQualified), ("modelVersion", "1"))),
        ["score as text"] = (LifecycleMessageTypes.SalesQualified, "#/score", () => With(Real(LifecycleMessageTypes.SalesQualified), ("score", "55"))),
    };

    private static JObject Without(JObject message, string field)
    {
        message.Remove(field).Should().BeTrue($"the real message has '{field}'");
        return message;
    }

    private static JObject With(JObject message, params (string Field, JToken? Value)[] changes)
    {
        foreach (var (field, value) in changes) message[field] = value;
        return message;
    }

    [Theory]
    [MemberData(nameof(BrokenCases))]
    public void A_message_that_breaks_a_rule_of_its_type_fails_the_schema(string name)
    {
        var (type, where, make) = Broken[name];

        var errors = Errors(type, make());

        // An error renders as "Kind: path", then the nested errors of a combinator on further lines.
        errors.Should().Contain(e => e.Split('\n')[0].TrimEnd().EndsWith(": " + where, StringComparison.Ordinal), string.Join(" | ", errors));
    }
}
