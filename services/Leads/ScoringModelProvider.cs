using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using ScoringPlatform.Scoring;

namespace ScoringPlatform.Leads;

/// <summary>Scoring settings (section <c>Scoring</c>).</summary>
public sealed class ScoringOptions
{
    public const string Section = "Scoring";

    /// <summary>A model JSON file; the built-in default model when empty.</summary>
    public string? ModelPath { get; set; }
}

/// <summary>The active scoring model: loaded and validated once at start, so a bad model fails fast.</summary>
public sealed partial class ScoringModelProvider
{
    public ScoringModelProvider(IOptions<ScoringOptions> options, ILogger<ScoringModelProvider> logger)
    {
        var path = options.Value.ModelPath;
        if (string.IsNullOrWhiteSpace(path))
        {
            Current = ScoringModel.Default;
        }
        else
        {
            try
            {
                Current = ScoringModelLoader.Parse(File.ReadAllText(path));
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                throw new InvalidOperationException($"Scoring:ModelPath '{path}' cannot be read: {ex.Message}", ex);
            }
        }

        LogModel(logger, Current.Id, Current.Version, string.IsNullOrWhiteSpace(path) ? "built-in default" : path);
    }

    public ScoringModel Current { get; }

    [LoggerMessage(Level = LogLevel.Information, Message = "Scoring model {ModelId} v{ModelVersion} loaded from {Origin}")]
    private static partial void LogModel(ILogger logger, string modelId, int modelVersion, string origin);
}
