namespace ScoringPlatform.Contracts;

/// <summary>The <c>type</c> values an engagement event may carry.</summary>
public static class EngagementEventTypes
{
    public const string PageViewed = "page_viewed";
    public const string ContentDownloaded = "content_downloaded";
    public const string WebinarRegistered = "webinar_registered";
    public const string WebinarAttended = "webinar_attended";
    public const string EmailOpened = "email_opened";
    public const string EmailClicked = "email_clicked";
    public const string FormSubmitted = "form_submitted";
    public const string TrialStarted = "trial_started";
    public const string Unsubscribed = "unsubscribed";
    public const string ProfileUpdated = "profile_updated";
    public const string SalesContacted = "sales_contacted";

    /// <summary>
    /// Any other action a website reports by name (a Segment <c>track</c> call such as "Added to Cart"):
    /// <c>properties.eventName</c> holds the name, and a model scores it with a rule on this type whose
    /// categories are event names.
    /// </summary>
    public const string CustomEvent = "custom_event";

    /// <summary>
    /// The lead (<c>leadId</c>) is the same person as another identity: <c>anonymousId</c> (a visitor before
    /// identification) and/or <c>properties.previousId</c> (an anonymous id or another lead id, as in a Segment
    /// <c>alias</c> call). The lead's history then includes the other identity's events once, and later events
    /// under it count for the lead. Linking two lead ids is a merge.
    /// </summary>
    public const string IdentityLinked = "identity_linked";

    public static readonly IReadOnlySet<string> All = new HashSet<string>(StringComparer.Ordinal)
    {
        PageViewed, ContentDownloaded, WebinarRegistered, WebinarAttended, EmailOpened, EmailClicked,
        FormSubmitted, TrialStarted, Unsubscribed, ProfileUpdated, SalesContacted, CustomEvent, IdentityLinked,
    };
}

/// <summary>Values of <c>properties.category</c> on <c>page_viewed</c>.</summary>
public static class PageCategories
{
    public const string Pricing = "pricing";
    public const string Product = "product";
    public const string Blog = "blog";
    public const string CaseStudy = "case_study";
    public const string Docs = "docs";
    public const string Careers = "careers";
    public const string Other = "other";

    public static readonly IReadOnlyList<string> All = [Pricing, Product, Blog, CaseStudy, Docs, Careers, Other];
}

/// <summary>Values of <c>properties.formType</c> on <c>form_submitted</c>.</summary>
public static class FormTypes
{
    public const string DemoRequest = "demo_request";
    public const string ContactSales = "contact_sales";
    public const string Newsletter = "newsletter";
    public const string Other = "other";

    public static readonly IReadOnlyList<string> All = [DemoRequest, ContactSales, Newsletter, Other];
}
