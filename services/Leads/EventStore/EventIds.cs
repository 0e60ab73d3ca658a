using System.Security.Cryptography;
using System.Text;

namespace ScoringPlatform.Leads.EventStore;

/// <summary>
/// Maps a producer's event id (any string) to the Marten event id. The mapping is deterministic, so a
/// redelivered message gets the same id and the store's unique index on event ids rejects the copy.
/// </summary>
public static class EventIds
{
    // A fixed namespace for name-based (v5-style) UUIDs of engagement event ids.
    private static readonly Guid Namespace = new("7d1e3f0a-5b1c-4f0e-9a52-2c4b8e6f1a90");

    public static Guid FromSourceId(string sourceEventId)
    {
        if (Guid.TryParse(sourceEventId, out var guid)) return guid;
        return NameBased(Namespace, sourceEventId);
    }

    /// <summary>The id of an event derived from another one (e.g. the crossing a given event triggered).</summary>
    public static Guid Derived(string kind, string leadId, string triggeringEventId) =>
        NameBased(Namespace, $"{kind}\u001f{leadId}\u001f{triggeringEventId}");

    private static Guid NameBased(Guid ns, string name)
    {
        Span<byte> buffer = stackalloc byte[16 + Encoding.UTF8.GetMaxByteCount(name.Length)];
        ns.TryWriteBytes(buffer, bigEndian: true, out _);
        var length = 16 + Encoding.UTF8.GetBytes(name, buffer[16..]);
        Span<byte> hash = stackalloc byte[20];
        SHA1.HashData(buffer[..length], hash);
        hash[6] = (byte)((hash[6] & 0x0F) | 0x50);
        hash[8] = (byte)((hash[8] & 0x3F) | 0x80);
        return new Guid(hash[..16], bigEndian: true);
    }
}
