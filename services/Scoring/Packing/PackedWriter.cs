using System.Buffers;
using System.Buffers.Binary;
using System.Text;

namespace ScoringPlatform.Scoring.Packing;

/// <summary>
/// Writes the compact binary forms of per-lead state (<see cref="Lifecycle.LeadLifecycleCodec"/>, the Api's verdict
/// memory): ZigZag varints (a count takes one byte, UTC ticks nine), raw little-endian doubles, UTF-8 strings with a
/// length prefix, and optionally shared strings (<see cref="Shared"/>: each distinct string once, then a back-reference).
/// Read with <see cref="PackedReader"/> in the same order. Reusable: <see cref="Reset"/> clears it for the next value.
/// </summary>
public sealed class PackedWriter
{
    private readonly ArrayBufferWriter<byte> _buffer;
    private Dictionary<string, int>? _shared;

    public PackedWriter(int initialCapacity = 512) => _buffer = new ArrayBufferWriter<byte>(initialCapacity);

    public ReadOnlySpan<byte> WrittenSpan => _buffer.WrittenSpan;

    public int WrittenCount => _buffer.WrittenCount;

    public byte[] ToArray() => _buffer.WrittenSpan.ToArray();

    public void Reset()
    {
        _buffer.ResetWrittenCount();
        _shared?.Clear();
    }

    public void Byte(byte value)
    {
        _buffer.GetSpan(1)[0] = value;
        _buffer.Advance(1);
    }

    public void Bool(bool value) => Byte(value ? (byte)1 : (byte)0);

    /// <summary>ZigZag, then 7 bits a byte: small magnitudes of either sign take one byte.</summary>
    public void VarLong(long value)
    {
        var v = (ulong)((value << 1) ^ (value >> 63));
        var span = _buffer.GetSpan(10);
        var n = 0;
        while (v >= 0x80)
        {
            span[n++] = (byte)(v | 0x80);
            v >>= 7;
        }

        span[n++] = (byte)v;
        _buffer.Advance(n);
    }

    public void NullableLong(long? value)
    {
        Bool(value is not null);
        if (value is { } v) VarLong(v);
    }

    /// <summary>0 false, 1 true, 2 null.</summary>
    public void NullableBool(bool? value) => Byte(value switch { null => 2, true => 1, false => 0 });

    /// <summary>Eight raw bytes: every bit kept (negative zero, NaN payloads).</summary>
    public void Double(double value)
    {
        BinaryPrimitives.WriteDoubleLittleEndian(_buffer.GetSpan(8), value);
        _buffer.Advance(8);
    }

    /// <summary>Eight raw bytes (hashes: a varint of a random 64-bit value would take ten).</summary>
    public void Fixed64(long value)
    {
        BinaryPrimitives.WriteInt64LittleEndian(_buffer.GetSpan(8), value);
        _buffer.Advance(8);
    }

    /// <summary>The four 32-bit parts of <see cref="decimal.GetBits(decimal)"/>: exact, scale included (1.50 stays 1.50).</summary>
    public void NullableDecimal(decimal? value)
    {
        Bool(value is not null);
        if (value is not { } d) return;
        Span<int> bits = stackalloc int[4];
        decimal.GetBits(d, bits);
        foreach (var b in bits) VarLong(b);
    }

    /// <summary>The UTC instant only (the offset is dropped).</summary>
    public void Ticks(DateTimeOffset value) => VarLong(value.UtcTicks);

    public void NullableTicks(DateTimeOffset? value)
    {
        Bool(value is not null);
        if (value is { } v) VarLong(v.UtcTicks);
    }

    /// <summary>The UTC instant and the offset in minutes (one byte for UTC): the value comes back as it was.</summary>
    public void Instant(DateTimeOffset value)
    {
        VarLong(value.UtcTicks);
        VarLong((long)value.Offset.TotalMinutes);
    }

    public void NullableInstant(DateTimeOffset? value)
    {
        Bool(value is not null);
        if (value is { } v) Instant(v);
    }

    public void String(string value)
    {
        var bytes = Encoding.UTF8.GetByteCount(value);
        VarLong(bytes);
        Encoding.UTF8.GetBytes(value, _buffer.GetSpan(bytes));
        _buffer.Advance(bytes);
    }

    public void NullableString(string? value)
    {
        Bool(value is not null);
        if (value is not null) String(value);
    }

    /// <summary>
    /// A string that may repeat within the value (event ids, rule ids, the model id): 0 for null, 1 and the string the
    /// first time, then 2 + its index among the strings written so far.
    /// </summary>
    public void Shared(string? value)
    {
        if (value is null)
        {
            VarLong(0);
            return;
        }

        _shared ??= new Dictionary<string, int>(StringComparer.Ordinal);
        if (_shared.TryGetValue(value, out var index))
        {
            VarLong(index + 2L);
            return;
        }

        _shared.Add(value, _shared.Count);
        VarLong(1);
        String(value);
    }

    /// <summary>A count, then the values eight to a byte.</summary>
    public void Bools(List<bool> values)
    {
        VarLong(values.Count);
        for (var i = 0; i < values.Count; i += 8)
        {
            var b = 0;
            for (var j = 0; j < 8 && i + j < values.Count; j++)
            {
                if (values[i + j]) b |= 1 << j;
            }

            Byte((byte)b);
        }
    }
}
