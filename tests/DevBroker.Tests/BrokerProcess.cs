using System.Diagnostics;
using System.Reflection;
using System.Runtime.InteropServices;

namespace DevBroker.Tests;

/// <summary>The built DevBroker, started as a child process the way scripts/infra.sh starts it.</summary>
internal sealed partial class BrokerProcess : IDisposable
{
    private readonly Process _process;
    private readonly System.Text.StringBuilder _stdout = new();
    private readonly System.Text.StringBuilder _stderr = new();

    private BrokerProcess(Process process) => _process = process;

    public static string Dll => typeof(BrokerProcess).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
        .Single(a => a.Key == "DevBrokerDll").Value!;

    public string Stdout { get { lock (_stdout) return _stdout.ToString(); } }
    public string Stderr { get { lock (_stderr) return _stderr.ToString(); } }
    public bool HasExited => _process.HasExited;
    public int ExitCode => _process.ExitCode;

    public static BrokerProcess Start(params string[] args)
    {
        var info = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(Dll);
        foreach (var arg in args) info.ArgumentList.Add(arg);
        var broker = new BrokerProcess(new Process { StartInfo = info });
        broker._process.OutputDataReceived += (_, e) => { lock (broker._stdout) broker._stdout.AppendLine(e.Data); };
        broker._process.ErrorDataReceived += (_, e) => { lock (broker._stderr) broker._stderr.AppendLine(e.Data); };
        broker._process.Start();
        broker._process.BeginOutputReadLine();
        broker._process.BeginErrorReadLine();
        return broker;
    }

    /// <summary>Waits for the bootstrap file, as infra.sh does; fails with the broker's output if it exits first.</summary>
    public async Task<string> WaitForBootstrapFileAsync(string path, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            if (File.Exists(path) && await File.ReadAllTextAsync(path) is { Length: > 0 } text) return text;
            if (_process.HasExited) break;
            await Task.Delay(100);
        }

        throw new TimeoutException($"no bootstrap file (exited: {_process.HasExited}); stdout: {Stdout} stderr: {Stderr}");
    }

    /// <summary>Waits until stdout holds <paramref name="text"/>: the pipe is read asynchronously, after the file may exist.</summary>
    public async Task<string> WaitForStdoutAsync(string text, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline && !Stdout.Contains(text, StringComparison.Ordinal) && !_process.HasExited)
        {
            await Task.Delay(50);
        }

        return Stdout;
    }

    public async Task<int> StopAsync(TimeSpan timeout)
    {
        Kill(_process.Id, 15).Should().Be(0, "SIGTERM must be deliverable");
        using var cts = new CancellationTokenSource(timeout);
        await _process.WaitForExitAsync(cts.Token);
        return _process.ExitCode;
    }

    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        await _process.WaitForExitAsync(cts.Token);
        return _process.ExitCode;
    }

    public void Dispose()
    {
        if (!_process.HasExited) _process.Kill();
        _process.Dispose();
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}
