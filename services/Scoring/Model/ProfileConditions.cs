using ScoringPlatform.Contracts;
namespace ScoringPlatform.Scoring;

/// <summary>What a profile rule or hard rule tests. JSON names are snake_case (e.g. <c>target_title</c>).</summary>
public enum ProfileCondition
{
    TargetTitle,
    TargetCompanySize,
    TargetIndustry,
    TargetCountry,
    BudgetAuthority,
    CompetitorDomain,
    PersonalEmailDomain,
    StudentDomain,
    JobSeekerTitle,
    StudentTitle,
}

/// <summary>Event type names and their categories, as the wire contracts define them.</summary>
public static class EventTypes
{
    public const string ProfileUpdated = EngagementEventTypes.ProfileUpdated;
    public const string IdentityLinked = EngagementEventTypes.IdentityLinked;

    /// <summary>The custom event's category is the action's name the website chose: any name is a valid category.</summary>
    public const string CustomEvent = EngagementEventTypes.CustomEvent;

    public static IReadOnlyCollection<string> All => EngagementEventTypes.All;

    /// <summary>Categories an event type can carry; types not listed here carry none a rule can select on.</summary>
    public static readonly IReadOnlyDictionary<string, IReadOnlyList<string>> Categories = new Dictionary<string, IReadOnlyList<string>>
    {
        [EngagementEventTypes.PageViewed] = PageCategories.All,
        [EngagementEventTypes.FormSubmitted] = FormTypes.All,
    };

    public static bool IsKnown(string type) => EngagementEventTypes.All.Contains(type);
}

internal static class ProfileConditions
{
    public static readonly IReadOnlyDictionary<string, ProfileCondition> ByName = new Dictionary<string, ProfileCondition>(StringComparer.Ordinal)
    {
        ["target_title"] = ProfileCondition.TargetTitle,
        ["target_company_size"] = ProfileCondition.TargetCompanySize,
        ["target_industry"] = ProfileCondition.TargetIndustry,
        ["target_country"] = ProfileCondition.TargetCountry,
        ["budget_authority"] = ProfileCondition.BudgetAuthority,
        ["competitor_domain"] = ProfileCondition.CompetitorDomain,
        ["personal_email_domain"] = ProfileCondition.PersonalEmailDomain,
        ["student_domain"] = ProfileCondition.StudentDomain,
        ["job_seeker_title"] = ProfileCondition.JobSeekerTitle,
        ["student_title"] = ProfileCondition.StudentTitle,
    };

    /// <summary>True/false when the profile field is known, null when it is not (no points, no disqualification).</summary>
    public static bool? Evaluate(ProfileCondition condition, LeadProfileState p, ModelLists lists) => condition switch
    {
        ProfileCondition.TargetTitle => p.JobTitle is { } t ? JobTitles.IsTarget(t, lists) : null,
        ProfileCondition.JobSeekerTitle => p.JobTitle is { } t ? TextMatch.ContainsAnyPhrase(TextMatch.Words(t), lists.JobSeekerPhrases) : null,
        ProfileCondition.StudentTitle => p.JobTitle is { } t ? TextMatch.ContainsAnyPhrase(TextMatch.Words(t), lists.StudentTitlePhrases) : null,
        ProfileCondition.TargetCompanySize => p.CompanySize is { } s
            ? s >= (lists.TargetCompanySizeMin ?? int.MinValue) && s <= (lists.TargetCompanySizeMax ?? int.MaxValue)
            : null,
        ProfileCondition.TargetIndustry => p.Industry is { } i ? lists.TargetIndustrySet.Contains(Industry(i, lists)) : null,
        ProfileCondition.TargetCountry => p.Country is { } c && Countries.Resolve(c, lists.CountryAliasCodes) is { } code
            ? lists.TargetCountrySet.Contains(code)
            : null,
        ProfileCondition.BudgetAuthority => p.BudgetAuthority,
        ProfileCondition.CompetitorDomain => Domain(p.Email) is { } d ? TextMatch.DomainMatchesAny(d, lists.CompetitorDomains) : null,
        ProfileCondition.StudentDomain => Domain(p.Email) is { } d ? TextMatch.DomainMatchesAny(d, lists.StudentDomains) : null,
        ProfileCondition.PersonalEmailDomain => Domain(p.Email) is { } d ? lists.PersonalDomainSet.Contains(d) : null,
        _ => null,
    };

    /// <summary>The canonical industry: "Computer Software" is "software" when the model lists it as a synonym.</summary>
    internal static string Industry(string industry, ModelLists lists)
    {
        var phrase = IndustryPhrase(industry);
        return lists.IndustryCanonical.TryGetValue(phrase, out var canonical) ? canonical : phrase;
    }

    /// <summary>Lower-case words without "and", so "Hospital & Health Care" and "hospital and health care" are one phrase.</summary>
    internal static string IndustryPhrase(string industry) => string.Join(' ', TextMatch.Words(industry).Where(w => w != "and"));

    private static string? Domain(string? email)
    {
        if (email is null) return null;
        var at = email.LastIndexOf('@');
        return at < 0 || at == email.Length - 1 ? null : TextMatch.Normalize(email[(at + 1)..]);
    }
}

internal static class TextMatch
{
    public static string Normalize(string s) => s.Trim().ToLowerInvariant();

    /// <summary>Lower-case words joined by one space: "U.S.A." is "u s a", "Computer  Software" is "computer software".</summary>
    public static string Phrase(string s) => string.Join(' ', Words(s));

    /// <summary>Lower-case words (letters and digits), so "Co-Founder & CTO" is [co, founder, cto].</summary>
    public static string[] Words(string s)
    {
        var words = new List<string>();
        var start = -1;
        for (var i = 0; i <= s.Length; i++)
        {
            var isWordChar = i < s.Length && char.IsLetterOrDigit(s[i]);
            if (isWordChar && start < 0) start = i;
            else if (!isWordChar && start >= 0)
            {
                words.Add(s[start..i].ToLowerInvariant());
                start = -1;
            }
        }

        return [.. words];
    }

    /// <summary>Whole-word phrase match: "director" does not match "cto", "head of sales" matches "head".</summary>
    public static bool ContainsAnyPhrase(ReadOnlySpan<string> words, string[][] phrases)
    {
        foreach (var phrase in phrases)
        {
            if (phrase.Length == 0) continue;
            for (var i = 0; i + phrase.Length <= words.Length; i++)
            {
                if (words.Slice(i, phrase.Length).SequenceEqual(phrase)) return true;
            }
        }

        return false;
    }

    /// <summary>The domain equals an entry or is a subdomain of it ("mit.edu" matches "edu").</summary>
    public static bool DomainMatchesAny(string domain, IReadOnlyList<string> entries)
    {
        foreach (var raw in entries)
        {
            var entry = Normalize(raw);
            if (domain == entry) return true;
            if (domain.Length > entry.Length && domain.EndsWith(entry, StringComparison.Ordinal) && domain[^(entry.Length + 1)] == '.')
                return true;
        }

        return false;
    }
}

/// <summary>
/// Job titles as people type them: abbreviations expanded from the model (SVP, Sr., Dir.), the role cut before
/// "to" ("Executive Assistant to the CEO" is an assistant, not a CEO), and non-target roles from the model
/// ("assistant", "product owner") voiding a seniority word elsewhere in the title.
/// </summary>
internal static class JobTitles
{
    public static bool IsTarget(string title, ModelLists lists)
    {
        var role = Role(title, lists);
        return !TextMatch.ContainsAnyPhrase(role, lists.NonTargetTitlePhrases) && TextMatch.ContainsAnyPhrase(role, lists.TargetTitlePhrases);
    }

    /// <summary>The title's words with abbreviations expanded, up to "to" (whose object is someone else's role).</summary>
    public static string[] Role(string title, ModelLists lists)
    {
        var words = new List<string>();
        foreach (var word in TextMatch.Words(title))
        {
            if (word == "to") break;
            if (lists.TitleAbbreviationWords.TryGetValue(word, out var expansion)) words.AddRange(expansion);
            else words.Add(word);
        }

        return [.. words];
    }
}
