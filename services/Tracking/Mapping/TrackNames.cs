using ScoringPlatform.Contracts;

namespace ScoringPlatform.Tracking.Mapping;

/// <summary>What a known <c>track</c> event name becomes: an engagement type, and the form type for forms.</summary>
public sealed record TrackMapping(string Type, string? FormType = null);

/// <summary>
/// Known <c>track</c> event names (Segment's B2B and email spec names, common variants, and the contract's own type
/// names). Matching ignores case and separators, so "Demo Requested", "demo_requested" and "demo-requested" agree. Any
/// other name is a <c>custom_event</c> carrying the name.
/// </summary>
public static class TrackNames
{
    private static readonly TrackMapping Demo = new(EngagementEventTypes.FormSubmitted, FormTypes.DemoRequest);
    private static readonly TrackMapping ContactSales = new(EngagementEventTypes.FormSubmitted, FormTypes.ContactSales);
    private static readonly TrackMapping Newsletter = new(EngagementEventTypes.FormSubmitted, FormTypes.Newsletter);
    private static readonly TrackMapping Form = new(EngagementEventTypes.FormSubmitted);

    private static readonly Dictionary<string, TrackMapping> Known = ByNormalisedName(new Dictionary<string, TrackMapping>
    {
        ["Demo Requested"] = Demo,
        ["Demo Request Submitted"] = Demo,
        ["Request Demo"] = Demo,
        ["Contact Sales Submitted"] = ContactSales,
        ["Contact Sales"] = ContactSales,
        ["Sales Contact Requested"] = ContactSales,
        ["Newsletter Subscribed"] = Newsletter,
        ["Newsletter Signed Up"] = Newsletter,
        ["Form Submitted"] = Form,
        ["Whitepaper Downloaded"] = new(EngagementEventTypes.ContentDownloaded),
        ["Content Downloaded"] = new(EngagementEventTypes.ContentDownloaded),
        ["Ebook Downloaded"] = new(EngagementEventTypes.ContentDownloaded),
        ["Webinar Registered"] = new(EngagementEventTypes.WebinarRegistered),
        ["Webinar Attended"] = new(EngagementEventTypes.WebinarAttended),
        ["Email Opened"] = new(EngagementEventTypes.EmailOpened),
        ["Email Link Clicked"] = new(EngagementEventTypes.EmailClicked),
        ["Email Clicked"] = new(EngagementEventTypes.EmailClicked),
        ["Trial Started"] = new(EngagementEventTypes.TrialStarted),
        ["Unsubscribed"] = new(EngagementEventTypes.Unsubscribed),
        ["Email Unsubscribed"] = new(EngagementEventTypes.Unsubscribed),
        // The contract's own names, for producers that already speak it ("page_viewed" needs properties.category).
        [EngagementEventTypes.PageViewed] = new(EngagementEventTypes.PageViewed),
        [EngagementEventTypes.ContentDownloaded] = new(EngagementEventTypes.ContentDownloaded),
        [EngagementEventTypes.WebinarRegistered] = new(EngagementEventTypes.WebinarRegistered),
        [EngagementEventTypes.WebinarAttended] = new(EngagementEventTypes.WebinarAttended),
        [EngagementEventTypes.EmailOpened] = new(EngagementEventTypes.EmailOpened),
        [EngagementEventTypes.EmailClicked] = new(EngagementEventTypes.EmailClicked),
        [EngagementEventTypes.FormSubmitted] = Form,
        [EngagementEventTypes.TrialStarted] = new(EngagementEventTypes.TrialStarted),
        [EngagementEventTypes.Unsubscribed] = new(EngagementEventTypes.Unsubscribed),
        [EngagementEventTypes.SalesContacted] = new(EngagementEventTypes.SalesContacted),
    });

    private static readonly Dictionary<string, string> FormTypeNames = new Dictionary<string, string>
    {
        ["demo_request"] = FormTypes.DemoRequest,
        ["demo"] = FormTypes.DemoRequest,
        ["request demo"] = FormTypes.DemoRequest,
        ["contact_sales"] = FormTypes.ContactSales,
        ["sales"] = FormTypes.ContactSales,
        ["newsletter"] = FormTypes.Newsletter,
        ["other"] = FormTypes.Other,
    }.ToDictionary(e => Normalise(e.Key), e => e.Value, StringComparer.Ordinal);

    /// <summary>"Content Downloaded" and "content_downloaded" are one key; two names that meet must agree.</summary>
    private static Dictionary<string, TrackMapping> ByNormalisedName(Dictionary<string, TrackMapping> table)
    {
        var byKey = new Dictionary<string, TrackMapping>(StringComparer.Ordinal);
        foreach (var (name, mapping) in table)
        {
            if (!byKey.TryAdd(Normalise(name), mapping) && byKey[Normalise(name)] != mapping)
                throw new InvalidOperationException($"track name '{name}' maps two ways");
        }

        return byKey;
    }

    /// <summary>The mapping of a known name, or null (then the call is a <c>custom_event</c>).</summary>
    public static TrackMapping? Find(string eventName) => Known.GetValueOrDefault(Normalise(eventName));

    /// <summary>A form's own words for its kind read as the contract's form types; unknown kinds are <c>other</c>.</summary>
    public static string FormType(string? name) =>
        name is null ? FormTypes.Other : FormTypeNames.GetValueOrDefault(Normalise(name), FormTypes.Other);

    /// <summary>Lower case, every run of characters other than letters and digits one space, trimmed.</summary>
    public static string Normalise(string name)
    {
        var builder = new System.Text.StringBuilder(name.Length);
        var pendingSpace = false;
        foreach (var c in name)
        {
            if (char.IsLetterOrDigit(c))
            {
                if (pendingSpace && builder.Length > 0) builder.Append(' ');
                builder.Append(char.ToLowerInvariant(c));
                pendingSpace = false;
            }
            else
            {
                pendingSpace = true;
            }
        }

        return builder.ToString();
    }
}
