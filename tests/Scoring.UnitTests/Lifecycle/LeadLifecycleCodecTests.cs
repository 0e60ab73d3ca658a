using System.Text;
using System.Text.Json;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using ScoringPlatform.Scoring.Lifecycle;
using static ScoringPlatform.Scoring.UnitTests.TestModels;
using static ScoringPlatform.Scoring.UnitTests.Lifecycle.LifecycleTestData;

namespace ScoringPlatform.Scoring.UnitTests.Lifecycle;

/// <summary>
/// The projection stores a lead's lifecycle packed (<see cref="LeadLifecycleCodec"/>) and folds the next events into what
/// it unpacks, so unpacking must give back exactly what was packed. The oracle is the type's own JSON contract, which
/// lists every public field: Decode(Encode(x)) must serialise to the same JSON as x.
/// </summary>
public class LeadLifecycleCodecTests
{
    // Two inputs kept per lead, so histories of a few inputs already fold into the checkpoint (its score state non-trivial).
    private static readonly ScoringModel Small = DefaultWith("\"maxEventsPerLead\": 64", "\"maxEventsPerLead\": 2");

    private static string Json(object value) => JsonSerializer.Serialize(value);

    [Property(MaxTest = 300)]
    public Property Given_any_history_in_any_arrival_order_When_packed_and_unpacked_mid_stream_Then_it_is_the_same_lifecycle_and_folds_the_rest_identically() =>
        Prop.ForAll(TimelineProperties.Cases(sales: true), Arb.From(Gen.Choose(0, 24)), Arb.From(Gen.Elements(true, false)), (c, split, small) =>
        {
            var model = small ? Small : Default;
            var arrival = TimelineProperties.Arrival(c).ToList();
            var original = Incremental(arrival.Take(split), model);

            var restored = LeadLifecycleCodec.Decode(LeadLifecycleCodec.Encode(original));

            if (Json(restored) != Json(original)) return false.Label("unpacked JSON differs before the rest");
            foreach (var input in arrival.Skip(split))
            {
                var a = LeadTimeline.Record(original, input, model);
                var b = LeadTimeline.Record(restored, input, model);
                if (Json(a) != Json(b)) return false.Label($"update for {input.Id} differs");
            }

            var clock = LeadTimeline.AdvanceTo(original, T0.AddDays(200), model);
            var restoredClock = LeadTimeline.AdvanceTo(restored, T0.AddDays(200), model);
            return (Json(restored) == Json(original) && Json(clock) == Json(restoredClock)).Label("lifecycle after the rest");
        });

    [Fact]
    public void Given_offsets_amounts_expected_stages_and_every_trait_When_packed_and_unpacked_Then_each_value_comes_back_as_it_was()
    {
        var plus2 = TimeSpan.FromHours(2);
        var at = new DateTimeOffset(2026, 3, 2, 11, 0, 0, plus2);
        LeadInput[] inputs =
        [
            Profile(at, new LeadProfile("ana@acme.com", "Chief Revenue Officer", 800, "Software", "DE", true), "p1"),
            Engagement(new ScoringEvent("d1", "form_submitted", at.AddMinutes(5), "demo_request", "f")),
            Engagement(new ScoringEvent("x1", "page_viewed", at.AddMinutes(6).ToOffset(TimeSpan.FromHours(-5)), "pricing")),
            Sales(SalesActionKind.Accept, at.AddHours(1), "k1", expected: LifecycleStage.Mql),
            Sales(SalesActionKind.Convert, at.AddHours(2), "k2", reason: "signed", amount: 1.50m),
            Profile(at.AddHours(3), new LeadProfile(null, null, null, null, null, false), "p2"),
        ];
        var lead = Incremental(inputs);
        lead.Transitions.Should().Contain(t => t.Amount == 1.50m, "the conversion's amount is part of what is packed");

        var restored = LeadLifecycleCodec.Decode(LeadLifecycleCodec.Encode(lead));

        Json(restored).Should().Be(Json(lead));
        restored.Inputs.Should().Equal(lead.Inputs);
        restored.Inputs[2].At.Offset.Should().Be(TimeSpan.FromHours(-5));
        ((SalesInput)restored.Inputs[^2]).Action.Amount.ToString().Should().Be("1.50", "the decimal's scale is kept");
        restored.Transitions.Should().Equal(lead.Transitions);
    }

    [Fact]
    public void Given_a_lead_with_twenty_inputs_When_packed_Then_it_takes_under_a_third_of_its_json()
    {
        // Why it exists (issue 11): the projection moved ~12 KB of JSON per lead per page; the packed form must be far smaller.
        var inputs = Enumerable.Range(0, 20).Select(i => i % 5 == 0
            ? Profile(T0.AddHours(i), GoodFit, $"{Guid.NewGuid()}")
            : Engagement(new ScoringEvent($"{Guid.NewGuid()}", i % 2 == 0 ? "email_opened" : "page_viewed", T0.AddHours(i), i % 2 == 0 ? null : "pricing", $"a{i % 3}")));
        var lead = Incremental(inputs);

        var packed = LeadLifecycleCodec.Encode(lead).Length;
        var json = Encoding.UTF8.GetByteCount(Json(lead));

        packed.Should().BeLessThan(json / 3, $"packed {packed} B against {json} B of JSON");
    }

    [Fact]
    public void Given_a_packed_lifecycle_cut_short_anywhere_When_unpacked_Then_it_is_refused_as_invalid_data()
    {
        var packed = LeadLifecycleCodec.Encode(Incremental([Profile(T0, GoodFit, "p"), Engagement(Demo(T0, "d")), Sales(SalesActionKind.Accept, T0.AddHours(1), "k")]));

        for (var n = 0; n < packed.Length; n++)
        {
            var cut = packed[..n];
            FluentActions.Invoking(() => LeadLifecycleCodec.Decode(cut)).Should().Throw<InvalidDataException>($"cut at {n} of {packed.Length}");
        }

        FluentActions.Invoking(() => LeadLifecycleCodec.Decode([.. packed, 0])).Should().Throw<InvalidDataException>().WithMessage("*left over*");
        FluentActions.Invoking(() => LeadLifecycleCodec.Decode([9, .. packed[1..]])).Should().Throw<InvalidDataException>().WithMessage("*format 9*");
    }

    [Fact]
    public void Given_a_packed_lifecycle_with_any_one_byte_corrupted_When_unpacked_Then_it_is_either_read_or_refused_as_invalid_data_never_another_failure()
    {
        var packed = LeadLifecycleCodec.Encode(Incremental(
            [Profile(T0, PerfectFit, "p"), Engagement(Demo(T0, "d")), Engagement(Pricing(T0.AddHours(1), id: "x")), Sales(SalesActionKind.Accept, T0.AddHours(2), "k")]));
        var refused = 0;

        for (var i = 0; i < packed.Length; i++)
        {
            foreach (var flip in new byte[] { 0xFF, 0x80, 0x01 })
            {
                var corrupt = (byte[])packed.Clone();
                corrupt[i] ^= flip;
                try
                {
                    LeadLifecycleCodec.Decode(corrupt);
                }
                catch (InvalidDataException)
                {
                    refused++;
                }
            }
        }

        refused.Should().BeGreaterThan(packed.Length, "most corruptions break the structure and must be noticed");
    }
}
