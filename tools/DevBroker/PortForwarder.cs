using System.Net;
using System.Net.Sockets;

namespace ScoringPlatform.Tools.DevBroker;

/// <summary>
/// Relays TCP connections from a fixed 127.0.0.1 port to a mock broker's kernel-chosen port. Together with
/// rd_kafka_mock_broker_set_host_port (advertise the fixed port), clients only ever see the fixed ports.
/// </summary>
internal sealed class PortForwarder : IDisposable
{
    private readonly TcpListener _listener;
    private readonly int _targetPort;
    private readonly CancellationTokenSource _stop = new();

    /// <exception cref="SocketException">The port is taken (AddressAlreadyInUse) or not allowed.</exception>
    public PortForwarder(int listenPort, int targetPort)
    {
        _targetPort = targetPort;
        _listener = new TcpListener(IPAddress.Loopback, listenPort);
        // Like a broker: allow a restart while old connections are in TIME_WAIT.
        _listener.Server.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        _listener.Start(backlog: 64);
        _ = AcceptLoopAsync(_stop.Token);
    }

    private async Task AcceptLoopAsync(CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _listener.AcceptSocketAsync(ct);
            }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                if (ct.IsCancellationRequested) return;
                continue;
            }

            _ = RelayAsync(client, ct);
        }
    }

    private async Task RelayAsync(Socket client, CancellationToken ct)
    {
        using var upstream = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        using (client)
        {
            client.NoDelay = true;
            try
            {
                await upstream.ConnectAsync(IPAddress.Loopback, _targetPort, ct);
                await using var down = new NetworkStream(client, ownsSocket: false);
                await using var up = new NetworkStream(upstream, ownsSocket: false);
                var toBroker = down.CopyToAsync(up, ct);
                var toClient = up.CopyToAsync(down, ct);
                await Task.WhenAny(toBroker, toClient);
                // Either side closed: Kafka has no half-close, so end the whole connection.
                client.Close();
                upstream.Close();
                await Task.WhenAll(toBroker, toClient);
            }
            catch (Exception ex) when (ex is SocketException or IOException or OperationCanceledException or ObjectDisposedException)
            {
                // A dropped connection is the client's or the broker's business, as with a real proxy.
            }
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Stop();
        _stop.Dispose();
    }
}
