using ScoringPlatform.Api.Verdicts;

namespace ScoringPlatform.Platform.UnitTests;

public class LeadIdsTests
{
    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData(" lead-1")]
    [InlineData("lead\u0001")]
    [InlineData("a\u0000b")]
    [InlineData("lead-1 ")]
    public void Unusable_lead_ids_have_a_problem(string id) => LeadIds.Problem(id).Should().NotBeNull();

    [Fact]
    public void Overlong_lead_ids_have_a_problem() => LeadIds.Problem(new string('x', 201)).Should().Contain("longer");

    [Fact]
    public void Lead_ids_with_a_lone_surrogate_have_a_problem() => LeadIds.Problem("a" + (char)0xD800 + "b").Should().Contain("surrogate");

    [Fact]
    public void The_api_and_the_ingestion_edge_share_the_length_limit() =>
        LeadIds.MaxLength.Should().Be(ScoringPlatform.Contracts.EngagementEventRules.MaxIdLength);

    [Theory]
    [InlineData("lead-1")]
    [InlineData("anon:cookie-9")]
    [InlineData("jane@example.com")]
    [InlineData("lead \ud83d\ude00")]
    public void Ordinary_lead_ids_are_fine(string id) => LeadIds.Problem(id).Should().BeNull();
}
