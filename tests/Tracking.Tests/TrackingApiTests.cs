using System.Net;
using System.Text.Json;
using ScoringPlatform.Contracts;

namespace ScoringPlatform.Tracking.Tests;

/// <summary>The tracking calls over real HTTP, checked by what arrives on the real broker.</summary>
public class TrackingApiTests(TrackingService service) : IClassFixture<TrackingService>
{
    private static string Id(string what) => $"{what}-{Guid.NewGuid():N}";

    private static async Task<JsonElement> BodyOf(HttpResponseMessage response) =>
        JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();

    [Fact]
    public async Task Track_calls_map_known_names_onto_engagement_types_and_any_other_name_onto_custom_event()
    {
        var lead = Id("lead");
        var ids = Enumerable.Range(0, 6).Select(i => Id("trk" + i)).ToArray();
        object[] batch =
        [
            new { type = "track", userId = lead, @event = "Demo Requested", messageId = ids[0] },
            new { type = "track", userId = lead, @event = "Form Submitted", messageId = ids[1], properties = new { formType = "Contact Sales" } },
            new { type = "track", userId = lead, @event = "Whitepaper Downloaded", messageId = ids[2], properties = new { title = "ROI guide", category = "Whitepapers" } },
            new { type = "track", userId = lead, @event = "Email Link Clicked", messageId = ids[3], properties = new { email_id = "nl-42" } },
            new { type = "track", userId = lead, @event = "Added to Cart", messageId = ids[4], properties = new { sku = "A-1", price = 12.5 } },
            new { type = "track", userId = lead, @event = "trial_started", messageId = ids[5], context = new { campaign = new { name = "spring-launch" } } },
        ];

        using var response = await service.PostAsync("/v1/batch", new { batch });

        response.StatusCode.Should().Be(HttpStatusCode.OK, await response.Content.ReadAsStringAsync());
        (await BodyOf(response)).GetProperty("success").GetBoolean().Should().BeTrue();
        var arrived = service.ReadIds(ids).ToDictionary(a => a.Id);
        arrived.Should().HaveCount(6);
        arrived.Values.Should().AllSatisfy(a =>
        {
            a.Key.Should().Be(lead, "the message key is the lead id");
            a.LeadId.Should().Be(lead);
            a.Field("source").Should().Be("website", "the write key's source names the events");
        });
        arrived[ids[0]].Type.Should().Be(EngagementEventTypes.FormSubmitted);
        arrived[ids[0]].Property("formType").Should().Be(FormTypes.DemoRequest);
        arrived[ids[1]].Property("formType").Should().Be(FormTypes.ContactSales);
        arrived[ids[2]].Type.Should().Be(EngagementEventTypes.ContentDownloaded);
        arrived[ids[2]].Property("title").Should().Be("ROI guide");
        arrived[ids[2]].Property("category").Should().BeNull("the contract reserves category for page categories");
        arrived[ids[3]].Type.Should().Be(EngagementEventTypes.EmailClicked);
        arrived[ids[3]].Property("emailId").Should().Be("nl-42");
        arrived[ids[4]].Type.Should().Be(EngagementEventTypes.CustomEvent);
        arrived[ids[4]].Property("eventName").Should().Be("Added to Cart");
        arrived[ids[4]].Property("sku").Should().Be("A-1");
        arrived[ids[5]].Type.Should().Be(EngagementEventTypes.TrialStarted);
        arrived[ids[5]].Field("campaign").Should().Be("spring-launch");
    }

    [Fact]
    public async Task Page_and_screen_calls_become_page_views_with_the_site_words_read_as_contract_categories()
    {
        var anon = Id("anon");
        var ids = Enumerable.Range(0, 6).Select(i => Id("page" + i)).ToArray();
        var calls = new (string Path, object Body)[]
        {
            ("/v1/page", new { anonymousId = anon, messageId = ids[0], category = "Pricing", name = "Plans" }),
            ("/v1/page", new { anonymousId = anon, messageId = ids[1], name = "Case Studies" }),
            ("/v1/page", new { anonymousId = anon, messageId = ids[2], properties = new { url = "https://example.io/docs/start" } }),
            ("/v1/page", new { anonymousId = anon, messageId = ids[3], category = "Team Offsite" }),
            ("/v1/page", new { anonymousId = anon, messageId = ids[4], context = new { page = new { url = "https://example.io/careers?ref=x" } } }),
            ("/v1/screen", new { anonymousId = anon, messageId = ids[5], properties = new { category = "Product" } }),
        };
        foreach (var (path, body) in calls)
        {
            using var response = await service.PostAsync(path, body);
            response.StatusCode.Should().Be(HttpStatusCode.OK, await response.Content.ReadAsStringAsync());
        }

        var arrived = service.ReadIds(ids).ToDictionary(a => a.Id);
        arrived.Values.Should().AllSatisfy(a =>
        {
            a.Type.Should().Be(EngagementEventTypes.PageViewed);
            a.Key.Should().Be(anon, "without a lead id the key is the anonymous id");
            a.AnonymousId.Should().Be(anon);
            a.LeadId.Should().BeNull();
        });
        arrived[ids[0]].Property("category").Should().Be(PageCategories.Pricing);
        arrived[ids[0]].Property("name").Should().Be("Plans");
        arrived[ids[1]].Property("category").Should().Be(PageCategories.CaseStudy);
        arrived[ids[2]].Property("category").Should().Be(PageCategories.Docs);
        arrived[ids[2]].Property("url").Should().Be("https://example.io/docs/start");
        arrived[ids[3]].Property("category").Should().Be(PageCategories.Other);
        arrived[ids[4]].Property("category").Should().Be(PageCategories.Careers);
        arrived[ids[4]].Property("url").Should().Be("https://example.io/careers?ref=x");
        arrived[ids[5]].Property("category").Should().Be(PageCategories.Product);
    }

    [Fact]
    public async Task Identify_carries_the_mapped_traits_and_both_ids_and_leaves_out_traits_the_contract_refuses()
    {
        var (lead, anon, ids) = (Id("lead"), Id("anon"), new[] { Id("idf"), Id("idf") });
        using var first = await service.PostAsync("/v1/identify", new
        {
            userId = lead, anonymousId = anon, messageId = ids[0],
            traits = new { email = "ana@acme.io", title = "VP Engineering", employees = "250", company = new { industry = "software" }, address = new { country = "de" }, plan = "pro" },
        });
        using var second = await service.PostAsync("/v1/identify", new
        {
            userId = lead, messageId = ids[1],
            traits = new { email = "ana@acme.io", country = "Germany", company = new { employee_count = 40_000_000 }, industry = "fintech" },
        });

        first.StatusCode.Should().Be(HttpStatusCode.OK, await first.Content.ReadAsStringAsync());
        second.StatusCode.Should().Be(HttpStatusCode.OK, await second.Content.ReadAsStringAsync());
        var arrived = service.ReadIds(ids).ToDictionary(a => a.Id);
        var profile = arrived[ids[0]];
        profile.Type.Should().Be(EngagementEventTypes.ProfileUpdated);
        (profile.LeadId, profile.AnonymousId, profile.Key).Should().Be((lead, anon, lead));
        JsonSerializer.Deserialize<LeadTraits>(profile.Json.GetProperty("traits").GetRawText(), ContractJson.Options).Should().BeEquivalentTo(new LeadTraits
        {
            Email = "ana@acme.io", JobTitle = "VP Engineering", CompanySize = 250, Industry = "software", Country = "DE",
        });
        var partial = arrived[ids[1]];
        partial.Trait("country").Should().BeNull("a country name is not an ISO code: left out, the rest kept");
        partial.Trait("companySize").Should().BeNull("40 million is above the contract's range");
        (partial.Trait("email"), partial.Trait("industry")).Should().Be(("ana@acme.io", "fintech"));
    }

    [Fact]
    public async Task Alias_links_the_previous_identity_to_the_user_and_group_is_accepted_without_an_event()
    {
        var (lead, anon, aliasId, groupId, sentinel) = (Id("lead"), Id("anon"), Id("alias"), Id("group"), Id("sentinel"));

        using var alias = await service.PostAsync("/v1/alias", new { userId = lead, previousId = anon, messageId = aliasId });
        using var group = await service.PostAsync("/v1/group", new { userId = lead, groupId = "acme", messageId = groupId, traits = new { name = "Acme" } });
        using var after = await service.PostAsync("/v1/track", new { userId = lead, @event = "Sentinel", messageId = sentinel });

        alias.StatusCode.Should().Be(HttpStatusCode.OK, await alias.Content.ReadAsStringAsync());
        group.StatusCode.Should().Be(HttpStatusCode.OK, await group.Content.ReadAsStringAsync());
        after.StatusCode.Should().Be(HttpStatusCode.OK);
        var arrived = service.ReadUntilSentinel(sentinel).Where(a => a.Key == lead).ToList();
        arrived.Select(a => a.Id).Should().Equal(aliasId, sentinel);
        var link = arrived[0];
        link.Type.Should().Be(EngagementEventTypes.IdentityLinked);
        (link.LeadId, link.Property("previousId")).Should().Be((lead, anon));
    }

    [Fact]
    public async Task The_client_clock_is_corrected_by_sentAt_and_a_batch_sentAt_applies_to_messages_without_their_own()
    {
        // The client's clock runs an hour ahead; its events happened 5 and 10 minutes before it sent them.
        var skew = TimeSpan.FromHours(1);
        var lead = Id("lead");
        var (single, inBatch, ownSentAt, noTimestamp) = (Id("skew"), Id("skew"), Id("skew"), Id("skew"));
        var before = DateTimeOffset.UtcNow;
        var clientNow = before + skew;
        using var one = await service.PostAsync("/v1/track", new
        {
            userId = lead, @event = "Trial Started", messageId = single,
            timestamp = Iso(clientNow - TimeSpan.FromMinutes(5)), sentAt = Iso(clientNow),
        });
        using var batch = await service.PostAsync("/v1/batch", new
        {
            sentAt = Iso(clientNow),
            batch = new object[]
            {
                new { type = "track", userId = lead, @event = "Trial Started", messageId = inBatch, timestamp = Iso(clientNow - TimeSpan.FromMinutes(10)) },
                new { type = "track", userId = lead, @event = "Trial Started", messageId = ownSentAt, timestamp = Iso(before - TimeSpan.FromMinutes(3)), sentAt = Iso(before) },
                new { type = "track", userId = lead, @event = "Trial Started", messageId = noTimestamp },
            },
        });
        var after = DateTimeOffset.UtcNow;

        one.StatusCode.Should().Be(HttpStatusCode.OK, await one.Content.ReadAsStringAsync());
        batch.StatusCode.Should().Be(HttpStatusCode.OK, await batch.Content.ReadAsStringAsync());
        var arrived = service.ReadIds(single, inBatch, ownSentAt, noTimestamp).ToDictionary(a => a.Id, a => a.OccurredAt);
        // occurredAt = timestamp + (receivedAt - sentAt), receivedAt somewhere between before and after.
        var slack = TimeSpan.FromMilliseconds(2); // the timestamps on the wire have millisecond precision
        arrived[single].Should().BeOnOrAfter(before - TimeSpan.FromMinutes(5) - slack).And.BeOnOrBefore(after - TimeSpan.FromMinutes(5) + slack);
        arrived[inBatch].Should().BeOnOrAfter(before - TimeSpan.FromMinutes(10) - slack).And.BeOnOrBefore(after - TimeSpan.FromMinutes(10) + slack);
        arrived[ownSentAt].Should().BeOnOrAfter(before - TimeSpan.FromMinutes(3) - slack).And.BeOnOrBefore(after - TimeSpan.FromMinutes(3) + slack,
            "a message's own sentAt wins over the batch's");
        arrived[noTimestamp].Should().BeOnOrAfter(before - slack).And.BeOnOrBefore(after + slack, "no timestamp: the instant it was received");
    }

    [Fact]
    public async Task Each_produced_message_carries_the_request_trace_in_its_traceparent_header()
    {
        var traceId = Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(16));
        var ids = new[] { Id("trace"), Id("trace") };
        var lead = Id("lead");

        using var response = await service.PostAsync("/v1/batch",
            new { batch = ids.Select(id => new { type = "track", userId = lead, @event = "Email Opened", messageId = id }).ToArray() },
            configure: r => r.Headers.Add("traceparent", $"00-{traceId}-{Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(8))}-01"));

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        service.ReadIds(ids).Should().HaveCount(2).And.AllSatisfy(a => a.TraceParent.Should().MatchRegex($"^00-{traceId}-[0-9a-f]{{16}}-0[01]$"));
    }

    [Fact]
    public async Task A_message_without_messageId_gets_an_id_derived_from_its_content_so_a_retried_request_counts_once()
    {
        var lead = Id("lead");
        var body = new { userId = lead, @event = "Webinar Attended", timestamp = Iso(DateTimeOffset.UtcNow) };
        var sentinel = Id("sentinel");

        using var first = await service.PostAsync("/v1/track", body);
        using var retry = await service.PostAsync("/v1/track", body);
        using var other = await service.PostAsync("/v1/track", new { userId = lead, @event = "Webinar Registered", messageId = sentinel });

        first.StatusCode.Should().Be(HttpStatusCode.OK);
        retry.StatusCode.Should().Be(HttpStatusCode.OK);
        var arrived = service.ReadUntilSentinel(sentinel).Where(a => a.Key == lead && a.Id != sentinel).ToList();
        arrived.Should().HaveCount(2);
        arrived.Select(a => a.Id).Distinct().Should().ContainSingle().Which.Should().StartWith("trk-");
    }

    [Fact]
    public async Task A_missing_or_unknown_write_key_is_refused_with_401_and_a_challenge_and_nothing_is_produced()
    {
        var lead = Id("lead");
        var (noKey, badKey, hashed) = (Id("nokey"), Id("badkey"), Id("hashed"));

        var missing = new HttpRequestMessage(HttpMethod.Post, "/v1/track")
        {
            Content = new StringContent(JsonSerializer.Serialize(new { userId = lead, @event = "Trial Started", messageId = noKey }), System.Text.Encoding.UTF8, "application/json"),
        };
        using var withoutKey = await service.Http.SendAsync(missing);
        using var wrongKey = await service.PostAsync("/v1/track", new { userId = lead, @event = "Trial Started", messageId = badKey }, writeKey: "wk_not_a_key");
        using var byHash = await service.PostAsync("/v1/track", new { userId = lead, @event = "Trial Started", messageId = hashed }, writeKey: service.HashedWriteKey);

        foreach (var refused in new[] { withoutKey, wrongKey })
        {
            refused.StatusCode.Should().Be(HttpStatusCode.Unauthorized);
            refused.Headers.WwwAuthenticate.ToString().Should().Be("Basic realm=\"tracking\"");
            var body = await BodyOf(refused);
            body.GetProperty("success").GetBoolean().Should().BeFalse();
            body.GetProperty("code").GetString().Should().Be("unauthorized");
        }

        (await BodyOf(withoutKey)).GetProperty("error").GetString().Should().StartWith("missing write key");
        (await BodyOf(wrongKey)).GetProperty("error").GetString().Should().StartWith("unknown write key");
        byHash.StatusCode.Should().Be(HttpStatusCode.OK, "a source configured by the key's SHA-256 accepts the key");
        var arrived = service.ReadUntilSentinel(hashed).Where(a => a.Key == lead).ToList();
        arrived.Select(a => a.Id).Should().Equal(hashed);
        arrived[0].Field("source").Should().Be("crm");
    }

    [Fact]
    public async Task Oversized_messages_and_batches_invalid_json_and_a_batch_with_one_bad_message_are_refused_whole_with_400()
    {
        var lead = Id("lead");
        var bigProperty = new string('x', 33 * 1024);
        var ids = Enumerable.Range(0, 4).Select(i => Id("bad" + i)).ToArray();

        using var bigEvent = await service.PostAsync("/v1/track", new { userId = lead, @event = "Trial Started", messageId = ids[0], properties = new { blob = bigProperty } });
        using var bigInBatch = await service.PostAsync("/v1/batch", new
        {
            batch = new object[]
            {
                new { type = "track", userId = lead, @event = "Trial Started", messageId = ids[1] },
                new { type = "track", userId = lead, @event = "Trial Started", messageId = ids[2], properties = new { blob = bigProperty } },
            },
        });
        var thirtyKb = new string('y', 30 * 1024);
        using var bigBatch = await service.PostAsync("/v1/batch", new
        {
            batch = Enumerable.Range(0, 20).Select(i => new { type = "track", userId = lead, @event = "Trial Started", messageId = $"{ids[3]}-{i}", properties = new { blob = thirtyKb } }).ToArray(),
        });
        using var invalidJson = await service.PostAsync("/v1/batch", "{\"batch\": [ {\"type\": \"track\", ");
        using var oneBad = await service.PostAsync("/v1/batch", new
        {
            batch = new object[]
            {
                new { type = "track", userId = lead, @event = "Trial Started", messageId = ids[1] },
                new { type = "page", userId = lead, messageId = ids[2] },
                new { type = "track", userId = lead, messageId = ids[3] },
            },
        });
        var sentinel = Id("sentinel");
        using var after = await service.PostAsync("/v1/track", new { userId = lead, @event = "Trial Started", messageId = sentinel });

        await ExpectRefusal(bigEvent, "message_too_large", index: null, field: null);
        await ExpectRefusal(bigInBatch, "message_too_large", index: 1, field: null);
        await ExpectRefusal(bigBatch, "request_too_large", index: null, field: null);
        await ExpectRefusal(invalidJson, "invalid_json", index: null, field: null);
        await ExpectRefusal(oneBad, "missing_field", index: 2, field: "event");
        after.StatusCode.Should().Be(HttpStatusCode.OK);
        service.ReadUntilSentinel(sentinel).Where(a => a.Key == lead).Select(a => a.Id).Should().Equal([sentinel], "a refused request produces nothing");
    }

    [Fact]
    public async Task A_mapped_event_the_contract_refuses_is_a_400_naming_the_message_and_field()
    {
        var lead = Id("lead");
        using var selfAlias = await service.PostAsync("/v1/batch", new
        {
            batch = new object[]
            {
                new { type = "track", userId = lead, @event = "Trial Started", messageId = Id("ok") },
                new { type = "alias", userId = lead, previousId = lead, messageId = Id("self") },
            },
        });
        using var future = await service.PostAsync("/v1/track", new { userId = lead, @event = "Trial Started", timestamp = Iso(DateTimeOffset.UtcNow.AddDays(3)) });
        using var longId = await service.PostAsync("/v1/track", new { userId = new string('u', 201), @event = "Trial Started" });
        using var noIdentity = await service.PostAsync("/v1/page", new { name = "Pricing" });
        using var unknownType = await service.PostAsync("/v1/batch", new { batch = new object[] { new { type = "checkout", userId = lead } } });

        await ExpectRefusal(selfAlias, "invalid_field", index: 1, field: "previousId");
        await ExpectRefusal(future, "invalid_field", index: null, field: "timestamp");
        await ExpectRefusal(longId, "invalid_field", index: null, field: "userId");
        await ExpectRefusal(noIdentity, "missing_field", index: null, field: "userId");
        await ExpectRefusal(unknownType, "unsupported_type", index: 0, field: "type");
    }

    private static async Task ExpectRefusal(HttpResponseMessage response, string code, int? index, string? field)
    {
        var text = await response.Content.ReadAsStringAsync();
        response.StatusCode.Should().Be(HttpStatusCode.BadRequest, text);
        var body = JsonDocument.Parse(text).RootElement;
        body.GetProperty("success").GetBoolean().Should().BeFalse(text);
        body.GetProperty("code").GetString().Should().Be(code, text);
        body.GetProperty("error").GetString().Should().NotBeNullOrWhiteSpace();
        (body.TryGetProperty("index", out var i) ? i.GetInt32() : (int?)null).Should().Be(index, text);
        (body.TryGetProperty("field", out var f) ? f.GetString() : null).Should().Be(field, text);
    }

    private static string Iso(DateTimeOffset at) => at.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", System.Globalization.CultureInfo.InvariantCulture);
}
