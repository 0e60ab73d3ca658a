using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.InteropServices;

namespace ScoringPlatform.TestSupport;

/// <summary>
/// One platform service started as its own process from its built dll, stopped with SIGTERM, or killed
/// (SIGKILL) and restarted with the same environment (so the same ports, schema and consumer group).
/// </summary>
public sealed partial class ServiceProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly IReadOnlyDictionary<string, string> _environment;
    private readonly string _earlierOutput;
    private readonly ConcurrentQueue<string> _output = new();

    private ServiceProcess(string name, Process process, IReadOnlyDictionary<string, string> environment, string earlierOutput)
    {
        Name = name;
        _process = process;
        _environment = environment;
        _earlierOutput = earlierOutput;
    }

    public string Name { get; }

    /// <summary>This process's output, after that of the earlier processes of the same service (restarts).</summary>
    public string Output => _earlierOutput + string.Join(Environment.NewLine, _output);
    public bool HasExited => _process.HasExited;
    public int ExitCode => _process.ExitCode;
    public int ProcessId => _process.Id;

    /// <summary>Peak resident set size so far (VmHWM), in bytes; null once the process is gone.</summary>
    public long? PeakRssBytes() => ReadStatusKb("VmHWM") * 1024;

    public long? RssBytes() => ReadStatusKb("VmRSS") * 1024;

    private long? ReadStatusKb(string field)
    {
        try
        {
            var line = File.ReadLines($"/proc/{_process.Id}/status").FirstOrDefault(l => l.StartsWith(field + ":", StringComparison.Ordinal));
            return line is null ? null : long.Parse(line[(field.Length + 1)..].Trim().Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture);
        }
        catch (IOException)
        {
            return null;
        }
    }

    public static ServiceProcess Start(string project, IReadOnlyDictionary<string, string> environment) =>
        Start(project, new Dictionary<string, string>(environment), "");

    private static ServiceProcess Start(string project, IReadOnlyDictionary<string, string> environment, string earlierOutput)
    {
        var root = TestEnvironment.RepositoryRoot;
        var dll = Path.Combine(root, "services", project, "bin", TestEnvironment.Configuration, "net10.0", $"ScoringPlatform.{project}.dll");
        if (!File.Exists(dll)) throw new FileNotFoundException($"{dll} is not built; run `make test` (it builds the solution first)", dll);

        var info = new ProcessStartInfo("dotnet", [dll])
        {
            WorkingDirectory = Path.GetDirectoryName(dll)!,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        // Only the settings a test gives: configuration inherited from the test run (e.g. the Kafka__ and
        // ConnectionStrings__ variables `make test` exports) would hide a setting the service wrongly needs.
        foreach (var key in info.Environment.Keys.Where(k => k.Contains("__", StringComparison.Ordinal)).ToList()) info.Environment.Remove(key);
        info.Environment["ASPNETCORE_ENVIRONMENT"] = "Development";
        foreach (var (key, value) in environment) info.Environment[key] = value;

        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        var service = new ServiceProcess(project, process, environment, earlierOutput);
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) service._output.Enqueue(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) service._output.Enqueue(e.Data); };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return service;
    }

    public async Task WaitUntilHealthyAsync(int healthPort, TimeSpan timeout)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(3) };
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            if (_process.HasExited) throw new InvalidOperationException($"{Name} exited with {_process.ExitCode}:\n{Output}");
            try
            {
                using var response = await http.GetAsync($"http://127.0.0.1:{healthPort}/health/ready");
                if (response.IsSuccessStatusCode) return;
            }
            catch (HttpRequestException)
            {
            }
            catch (TaskCanceledException)
            {
            }

            await Task.Delay(250);
        }

        throw new TimeoutException($"{Name} was not healthy within {timeout.TotalSeconds:0}s:\n{Output}");
    }

    /// <summary>Graceful stop (SIGTERM), as an orchestrator would; returns the exit code.</summary>
    public async Task<int> StopAsync(TimeSpan timeout)
    {
        if (_process.HasExited) return _process.ExitCode;
        _ = Kill(_process.Id, 15);
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        return _process.ExitCode;
    }

    /// <summary>SIGKILL, as a crash or an OOM kill: no shutdown hooks, no offset commit, no flush.</summary>
    public async Task KillAsync()
    {
        if (_process.HasExited) return;
        _ = Kill(_process.Id, 9);
        await _process.WaitForExitAsync();
    }

    /// <summary>
    /// Starts the same service again with the same environment (ports, schema, consumer group), after killing
    /// this process if it still runs. The returned process replaces this one; its output includes this one's.
    /// </summary>
    public async Task<ServiceProcess> RestartAsync()
    {
        await KillAsync();
        var earlier = $"{Output}{Environment.NewLine}--- {Name} restarted (previous exit code {_process.ExitCode}) ---{Environment.NewLine}";
        _process.Dispose();
        return Start(Name, _environment, earlier);
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync(TimeSpan.FromSeconds(20));
        _process.Dispose();
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}
