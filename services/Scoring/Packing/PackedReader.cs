using System.Buffers.Binary;
using System.Text;

namespace ScoringPlatform.Scoring.Packing;

/// <summary>
/// Reads what <see cref="PackedWriter"/> wrote, in the same order. Every read is bounds-checked: truncated or corrupt
/// input throws <see cref="InvalidDataException"/>, and a count or length larger than the bytes left is refused before
/// anything is allocated for it.
/// </summary>
public ref struct PackedReader(ReadOnlySpan<byte> data)
{
    private readonly ReadOnlySpan<byte> _data = data;
    private List<string>? _shared;
    private int _at;

    public readonly int Remaining => _data.Length - _at;

    public byte Byte()
    {
        if (_at >= _data.Length) throw Truncated();
        return _data[_at++];
    }

    public bool Bool() => Byte() switch
    {
        0 => false,
        1 => true,
        var b => throw new InvalidDataException($"packed state: {b} is not a boolean (offset {_at - 1})"),
    };

    public long VarLong()
    {
        ulong v = 0;
        var shift = 0;
        byte b;
        do
        {
            if (shift > 63) throw new InvalidDataException($"packed state: varint longer than 10 bytes (offset {_at})");
            b = Byte();
            v |= (ulong)(b & 0x7F) << shift;
            shift += 7;
        }
        while ((b & 0x80) != 0);
        return (long)(v >> 1) ^ -(long)(v & 1);
    }

    public int VarInt()
    {
        var v = VarLong();
        return v is >= int.MinValue and <= int.MaxValue ? (int)v : throw new InvalidDataException($"packed state: {v} does not fit a 32-bit integer");
    }

    /// <summary>A count of items that take at least one byte each (so never more than the bytes left).</summary>
    public int Count()
    {
        var n = VarLong();
        return n >= 0 && n <= Remaining ? (int)n : throw new InvalidDataException($"packed state: count {n} with {Remaining} bytes left");
    }

    public long? NullableLong() => Bool() ? VarLong() : null;

    public bool? NullableBool() => Byte() switch
    {
        0 => false,
        1 => true,
        2 => null,
        var b => throw new InvalidDataException($"packed state: {b} is not a nullable boolean"),
    };

    public double Double() => BinaryPrimitives.ReadDoubleLittleEndian(Take(8));

    public long Fixed64() => BinaryPrimitives.ReadInt64LittleEndian(Take(8));

    public decimal? NullableDecimal()
    {
        if (!Bool()) return null;
        Span<int> bits = [VarInt(), VarInt(), VarInt(), VarInt()];
        try
        {
            return new decimal(bits);
        }
        catch (ArgumentException ex)
        {
            throw new InvalidDataException("packed state: not a decimal", ex);
        }
    }

    public DateTimeOffset Ticks() => new(CheckedTicks(VarLong()), TimeSpan.Zero);

    public DateTimeOffset? NullableTicks() => Bool() ? Ticks() : null;

    public DateTimeOffset Instant()
    {
        var utc = CheckedTicks(VarLong());
        var minutes = VarLong();
        if (minutes is < -14 * 60 or > 14 * 60) throw new InvalidDataException($"packed state: offset {minutes} min");
        var offset = TimeSpan.FromMinutes(minutes);
        var local = utc + offset.Ticks;
        if (local < DateTime.MinValue.Ticks || local > DateTime.MaxValue.Ticks) throw new InvalidDataException($"packed state: instant {utc} out of range");
        return new DateTimeOffset(local, offset);
    }

    public DateTimeOffset? NullableInstant() => Bool() ? Instant() : null;

    public string String()
    {
        var n = Count();
        return Encoding.UTF8.GetString(Take(n));
    }

    public string? NullableString() => Bool() ? String() : null;

    /// <summary>A string written with <see cref="PackedWriter.Shared"/>; null only where the writer wrote null.</summary>
    public string? NullableShared()
    {
        var code = VarLong();
        switch (code)
        {
            case 0:
                return null;
            case 1:
                var s = String();
                (_shared ??= []).Add(s);
                return s;
            default:
                var index = code - 2;
                return _shared is not null && index >= 0 && index < _shared.Count
                    ? _shared[(int)index]
                    : throw new InvalidDataException($"packed state: shared string {index} not written yet");
        }
    }

    public string Shared() => NullableShared() ?? throw new InvalidDataException($"packed state: null where a string is required (offset {_at})");

    public List<bool> Bools()
    {
        var n = VarLong();
        if (n < 0 || (n + 7) / 8 > Remaining) throw new InvalidDataException($"packed state: {n} booleans with {Remaining} bytes left");
        var list = new List<bool>((int)n);
        for (var i = 0; i < n; i += 8)
        {
            var b = Byte();
            for (var j = 0; j < 8 && i + j < n; j++) list.Add((b & (1 << j)) != 0);
        }

        return list;
    }

    /// <summary>Throws unless everything was read (trailing bytes mean the reader and writer disagree).</summary>
    public readonly void End()
    {
        if (_at != _data.Length) throw new InvalidDataException($"packed state: {_data.Length - _at} bytes left over");
    }

    private ReadOnlySpan<byte> Take(int n)
    {
        if (n > Remaining) throw Truncated();
        var span = _data.Slice(_at, n);
        _at += n;
        return span;
    }

    private static long CheckedTicks(long ticks) =>
        ticks >= DateTime.MinValue.Ticks && ticks <= DateTime.MaxValue.Ticks ? ticks : throw new InvalidDataException($"packed state: {ticks} is not an instant");

    private readonly InvalidDataException Truncated() => new($"packed state: truncated at offset {_at} of {_data.Length}");
}
