using ScoringPlatform.Contracts;

namespace ScoringPlatform.Tracking.Mapping;

/// <summary>
/// Reads a website's own words for a page ("Pricing", "Case Studies", "/docs/getting-started") as one of the contract's
/// page categories. Sites name their sections freely; the model scores only the closed list, so the common names of
/// each section are listed here and everything else is <c>other</c>.
/// </summary>
public static class PageCategoryNames
{
    private static readonly Dictionary<string, string> Aliases = Build(new()
    {
        [PageCategories.Pricing] = ["pricing", "price", "prices", "plans", "plans pricing", "plans and pricing", "pricing plans"],
        [PageCategories.Product] = ["product", "products", "features", "feature", "platform", "solutions", "solution", "integrations", "product tour", "tour"],
        [PageCategories.Blog] = ["blog", "blogs", "blog post", "article", "articles", "news", "insights"],
        [PageCategories.CaseStudy] = ["case study", "case studies", "customer story", "customer stories", "customers", "success stories", "testimonials"],
        [PageCategories.Docs] = ["docs", "doc", "documentation", "developers", "developer", "api", "api reference", "guides", "guide", "help", "help center", "support", "knowledge base", "kb"],
        [PageCategories.Careers] = ["careers", "career", "jobs", "job", "hiring", "join us", "work with us"],
        [PageCategories.Other] = ["other"],
    });

    /// <summary>The category a name stands for, or null when it names none (the caller then tries its next clue).</summary>
    public static string? Recognise(string? name) =>
        name is null ? null : Aliases.GetValueOrDefault(TrackNames.Normalise(name));

    /// <summary>The category of the first path segment of a URL or path (<c>https://x.io/pricing?a=1</c>, <c>/blog/post</c>), or null.</summary>
    public static string? FromPath(string? urlOrPath)
    {
        if (string.IsNullOrWhiteSpace(urlOrPath)) return null;
        var path = Uri.TryCreate(urlOrPath, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https" ? uri.AbsolutePath : urlOrPath;
        var cut = path.IndexOfAny(['?', '#']);
        if (cut >= 0) path = path[..cut];
        var first = path.Split('/', StringSplitOptions.RemoveEmptyEntries).FirstOrDefault();
        return first is null ? null : Recognise(Uri.UnescapeDataString(first));
    }

    private static Dictionary<string, string> Build(Dictionary<string, string[]> table) =>
        table.SelectMany(e => e.Value.Select(alias => (Alias: TrackNames.Normalise(alias), Category: e.Key)))
            .ToDictionary(x => x.Alias, x => x.Category, StringComparer.Ordinal);
}
