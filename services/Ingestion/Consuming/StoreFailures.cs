using System.Net.Sockets;
using Npgsql;
using Polly.CircuitBreaker;

namespace ScoringPlatform.Ingestion.Consuming;

public enum StoreFailureKind
{
    /// <summary>The store is unavailable or busy; the same append will succeed later. Retried without end.</summary>
    Transient,

    /// <summary>PostgreSQL refuses the data itself; retrying cannot help. The offending events are isolated.</summary>
    Rejected,

    /// <summary>Neither: retried a bounded number of times, then treated like <see cref="Rejected"/>.</summary>
    Unknown,
}

/// <summary>Sorts event-store failures by what retrying them can achieve.</summary>
public static class StoreFailures
{
    private const string UniqueViolation = "23505";

    public static StoreFailureKind Classify(Exception exception)
    {
        for (var e = exception; e is not null; e = e.InnerException)
        {
            switch (e)
            {
                case PostgresException pg:
                    return ClassifySqlState(pg.SqlState);
                case NpgsqlException { IsTransient: true }:
                case BrokenCircuitException:
                case SocketException:
                case IOException:
                case TimeoutException:
                    return StoreFailureKind.Transient;
            }
        }

        return StoreFailureKind.Unknown;
    }

    public static StoreFailureKind ClassifySqlState(string sqlState) => sqlState[..2] switch
    {
        // Data exception, integrity violation, program limit (e.g. an index row too large): this event, every time.
        // 23505 is the idempotency path; the appender handles it before it gets here.
        "22" or "54" => StoreFailureKind.Rejected,
        "23" when sqlState != UniqueViolation => StoreFailureKind.Rejected,
        // Connection, resources, operator intervention (admin shutdown, cannot connect now), serialization and
        // deadlock, system I/O errors.
        "08" or "53" or "57" or "58" or "40" => StoreFailureKind.Transient,
        // Missing tables, privileges, authentication, schema: the store is misconfigured, not the event; every event
        // would be rejected, so these are retried until an operator fixes them (readiness reports it meanwhile).
        "42" or "28" or "3D" or "3F" or "55" => StoreFailureKind.Transient,
        _ => StoreFailureKind.Unknown,
    };

    /// <summary>The text of the <c>dlq-reason</c> header for an event the store refused.</summary>
    public static string Describe(Exception exception)
    {
        for (var e = exception; e is not null; e = e.InnerException)
        {
            if (e is PostgresException pg) return $"SQLSTATE {pg.SqlState}: {pg.MessageText}";
        }

        return $"{exception.GetType().Name}: {exception.Message}";
    }
}
