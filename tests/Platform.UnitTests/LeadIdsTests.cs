using ScoringPlatform.Api.Verdicts;

namespace ScoringPlatform.Platform.UnitTests;

public class LeadIdsTests
{
    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData(" lead-1")]
    [InlineData("lead\u0001")]
    public void Unusable_lead_ids_have_a_problem(string id) => LeadIds.Problem(id).Should().NotBeNull();

    [Fact]
    public void Overlong_lead_ids_have_a_problem() => LeadIds.Problem(new string('x', 201)).Should().Contain("longer");

    [Theory]
    [InlineData("lead-1")]
    [InlineData("anon:cookie-9")]
    [InlineData("jane@example.com")]
    public void Ordinary_lead_ids_are_fine(string id) => LeadIds.Problem(id).Should().BeNull();
}
