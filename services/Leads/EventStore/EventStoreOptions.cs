using System.ComponentModel.DataAnnotations;

namespace ScoringPlatform.Leads.EventStore;

/// <summary>Event store settings (section <c>EventStore</c>; connection string <c>ConnectionStrings__EventStore</c>).</summary>
public sealed class EventStoreOptions
{
    public const string Section = "EventStore";

    public string? ConnectionString { get; set; }

    [Required, RegularExpression("^[a-z_][a-z0-9_]{0,62}$", ErrorMessage = "EventStore:Schema must be a lower-case PostgreSQL identifier.")]
    public string Schema { get; set; } = "scoring";

    /// <summary>Create/upgrade the Marten schema on start (the default; turn off when migrations are applied separately).</summary>
    public bool ApplySchemaOnStart { get; set; } = true;

    /// <summary>
    /// Which implementation maintains the score views (the same rows either way): <c>SetBased</c> (the default) or
    /// <c>Marten</c> (Marten's per-document SingleStreamProjection). Every service of a deployment must agree.
    /// </summary>
    public LeadScoreProjectionKind ScoreProjection { get; set; } = LeadScoreProjectionKind.SetBased;
}
