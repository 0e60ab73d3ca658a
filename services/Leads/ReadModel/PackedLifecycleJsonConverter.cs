using System.Buffers;
using System.Buffers.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using ScoringPlatform.Scoring.Lifecycle;

namespace ScoringPlatform.Leads.ReadModel;

/// <summary>
/// Stores <see cref="LeadScoreView.Lifecycle"/> as one base64 string of its packed form (<see cref="LeadLifecycleCodec"/>)
/// instead of a ~12 KB JSON object: the live projection loads, folds and saves every touched lead's lifecycle per page, and
/// parsing that JSON was most of a page's time (issue 11). The view's other fields stay plain JSON for queries and psql.
/// Reads the older object form too (a view stored before the change, until the layout rebuild replaced it).
/// </summary>
public sealed class PackedLifecycleJsonConverter : JsonConverter<LeadLifecycle>
{
    public override LeadLifecycle? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        switch (reader.TokenType)
        {
            case JsonTokenType.Null:
                return null;
            case JsonTokenType.StartObject:
                // The layout-2 object: the type's own (reflection) contract reads it; this converter is on the property only.
                return JsonSerializer.Deserialize<LeadLifecycle>(ref reader, options);
            case JsonTokenType.String when !reader.ValueIsEscaped && !reader.HasValueSequence:
                return DecodeBase64(reader.ValueSpan);
            case JsonTokenType.String:
                return Unpack(reader.GetBytesFromBase64());
            default:
                throw new JsonException($"a packed lifecycle is a base64 string, not {reader.TokenType}");
        }
    }

    public override void Write(Utf8JsonWriter writer, LeadLifecycle value, JsonSerializerOptions options) =>
        LeadLifecycleCodec.Encode(value, writer.WriteBase64StringValue);

    private static LeadLifecycle DecodeBase64(ReadOnlySpan<byte> utf8)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(Base64.GetMaxDecodedFromUtf8Length(utf8.Length));
        try
        {
            var status = Base64.DecodeFromUtf8(utf8, buffer, out _, out var written);
            if (status != OperationStatus.Done) throw new JsonException($"the packed lifecycle is not valid base64 ({status})");
            return Unpack(buffer.AsSpan(0, written));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static LeadLifecycle Unpack(ReadOnlySpan<byte> packed)
    {
        try
        {
            return LeadLifecycleCodec.Decode(packed);
        }
        catch (InvalidDataException ex)
        {
            throw new JsonException(ex.Message, ex);
        }
    }
}
