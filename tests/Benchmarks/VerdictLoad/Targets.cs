using System.Net;
using Grpc.Core;
using Grpc.Net.Client;
using ScoringPlatform.Api.V1;

namespace ScoringPlatform.Benchmarks.VerdictLoad;

/// <summary>One thing to load: sends request number <c>seq</c> and returns null on success or an error kind.</summary>
internal abstract class LoadTarget : IDisposable
{
    protected LoadTarget(string name, string protocol, bool isBaseline)
    {
        Name = name;
        Protocol = protocol;
        IsBaseline = isBaseline;
    }

    public string Name { get; }
    public string Protocol { get; }
    public bool IsBaseline { get; }

    public abstract Task<string?> SendAsync(long seq);

    public abstract void Dispose();
}

/// <summary>gRPC GetVerdict over a few h2c channels (round-robin); requests are prebuilt, one per lead id.</summary>
internal sealed class GrpcTarget : LoadTarget
{
    private readonly GrpcChannel[] _channels;
    private readonly LeadScoring.LeadScoringClient[] _clients;
    private readonly GetVerdictRequest[] _requests;
    private readonly TimeSpan _timeout;
    private readonly Metadata? _headers;

    public GrpcTarget(string name, bool isBaseline, Uri address, IReadOnlyList<string> leadIds, int channels, TimeSpan timeout, string? apiKey)
        : base(name, "gRPC", isBaseline)
    {
        _timeout = timeout;
        _headers = apiKey is null ? null : new Metadata { { "authorization", "Bearer " + apiKey } };
        _requests = leadIds.Select(id => new GetVerdictRequest { LeadId = id }).ToArray();
        _channels = Enumerable.Range(0, Math.Max(1, channels)).Select(_ => GrpcChannel.ForAddress(address, new GrpcChannelOptions
        {
            HttpHandler = new SocketsHttpHandler
            {
                EnableMultipleHttp2Connections = true,
                PooledConnectionIdleTimeout = Timeout.InfiniteTimeSpan,
                ConnectTimeout = TimeSpan.FromSeconds(5),
                UseProxy = false,
            },
            DisposeHttpClient = true,
        })).ToArray();
        _clients = _channels.Select(c => new LeadScoring.LeadScoringClient(c)).ToArray();
    }

    public override async Task<string?> SendAsync(long seq)
    {
        var client = _clients[(int)(seq % _clients.Length)];
        var request = _requests[(int)(seq % _requests.Length)];
        try
        {
            using var call = client.GetVerdictAsync(request, _headers, deadline: DateTime.UtcNow + _timeout);
            await call.ResponseAsync.ConfigureAwait(false);
            return null;
        }
        catch (RpcException e)
        {
            return "gRPC " + e.StatusCode;
        }
    }

    public override void Dispose()
    {
        foreach (var c in _channels) c.Dispose();
    }
}

/// <summary>REST GET /v1/leads/{id}/verdict over HTTP/1.1 keep-alive connections (body read fully).</summary>
internal sealed class RestTarget : LoadTarget
{
    private readonly HttpClient _http;
    private readonly Uri[] _uris;

    public RestTarget(string name, bool isBaseline, Uri baseAddress, IReadOnlyList<string> leadIds, int maxConnections, TimeSpan timeout, string? apiKey)
        : base(name, "REST", isBaseline)
    {
        _uris = leadIds.Select(id => new Uri(baseAddress, $"/v1/leads/{Uri.EscapeDataString(id)}/verdict")).ToArray();
        _http = new HttpClient(new SocketsHttpHandler
        {
            MaxConnectionsPerServer = Math.Max(1, maxConnections),
            PooledConnectionIdleTimeout = Timeout.InfiniteTimeSpan,
            ConnectTimeout = TimeSpan.FromSeconds(5),
            UseProxy = false,
            AutomaticDecompression = DecompressionMethods.None,
        })
        {
            Timeout = timeout,
            DefaultRequestVersion = HttpVersion.Version11,
            DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
        if (apiKey is not null) _http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", apiKey);
    }

    public override async Task<string?> SendAsync(long seq)
    {
        try
        {
            using var response = await _http.GetAsync(_uris[(int)(seq % _uris.Length)], HttpCompletionOption.ResponseContentRead).ConfigureAwait(false);
            return response.IsSuccessStatusCode ? null : "HTTP " + (int)response.StatusCode;
        }
        catch (TaskCanceledException)
        {
            return "timeout";
        }
        catch (HttpRequestException e)
        {
            return "HTTP " + e.HttpRequestError;
        }
    }

    public override void Dispose() => _http.Dispose();
}
