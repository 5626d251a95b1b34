using System.Text;
using System.Text.Json;
using Lcm.Client;
using Lcm.Contracts;
using Xunit.Abstractions;

namespace Lcm.Tests.Service;

/// <summary>
/// Messages that can never become a job: each ends as a <c>failed</c> status with a specific code and
/// a message a person can act on, is removed from the queue, and leaves the worker serving. A message
/// whose id cannot be used has no status to write: it goes to the poison queue with the reason.
/// </summary>
[Collection(ServiceCollection.Name)]
public sealed class BadInputTests(AzuriteFixture fixture, ITestOutputHelper output)
{
    private static readonly string LongPrompt = new('a', 45 * 1024);

    /// <summary>Each case: the queue message text exactly as sent, the error code, and words its message must contain.</summary>
    private static readonly Dictionary<string, (string Message, string Code, string Says)> Cases = new()
    {
        ["not base64"] = ("this is { not base64 }", "invalid_encoding", "not base64"),
        ["not JSON"] = (ServiceStorage.Base64("prompt: a cat"), "invalid_json", "not valid JSON"),
        ["JSON array"] = (ServiceStorage.Base64("""[{"prompt":"a cat"}]"""), "invalid_json", "must be a JSON object, found Array"),
        ["JSON string"] = (ServiceStorage.Base64("\"a cat\""), "invalid_json", "must be a JSON object, found String"),
        ["steps \"four\""] = (ServiceStorage.Base64("""{"prompt":"a cat","steps":"four"}"""), "invalid_type", "steps must be an integer, found \"four\""),
        ["width 64.5"] = (ServiceStorage.Base64("""{"prompt":"a cat","width":64.5}"""), "invalid_type", "width must be an integer"),
        ["prompt a number"] = (ServiceStorage.Base64("""{"prompt":42}"""), "invalid_type", "prompt must be a string"),
        ["unknown field stepz"] = (ServiceStorage.Base64("""{"prompt":"a cat","stepz":4}"""), "unknown_field", "unknown field 'stepz'"),
        ["field twice"] = (ServiceStorage.Base64("""{"prompt":"a cat","prompt":"a dog"}"""), "invalid_json", "'prompt' appears twice"),
        ["missing prompt"] = (ServiceStorage.Base64("""{"width":64}"""), "invalid_prompt", "prompt is required"),
        ["empty prompt"] = (ServiceStorage.Base64("""{"prompt":""}"""), "invalid_prompt", "prompt is required and must contain text"),
        ["blank prompt"] = (ServiceStorage.Base64("""{"prompt":"   "}"""), "invalid_prompt", "must contain text"),
        ["width 100"] = (ServiceStorage.Base64("""{"prompt":"a cat","width":100}"""), "invalid_width", "width must be a multiple of 8 in 64..2048, found 100"),
        ["height 4096"] = (ServiceStorage.Base64("""{"prompt":"a cat","height":4096}"""), "invalid_height", "found 4096"),
        ["steps 0"] = (ServiceStorage.Base64("""{"prompt":"a cat","steps":0}"""), "invalid_steps", "steps must be in 1..8, found 0"),
        ["count 9"] = (ServiceStorage.Base64("""{"prompt":"a cat","count":9}"""), "invalid_count", "count must be in 1..8, found 9"),
        ["seed -1"] = (ServiceStorage.Base64("""{"prompt":"a cat","seed":-1}"""), "invalid_seed", "seed must be in 0..4294967295, found -1"),
        ["guidanceScale 50"] = (ServiceStorage.Base64("""{"prompt":"a cat","guidanceScale":50}"""), "invalid_guidance_scale", "guidanceScale must be in 0..20, found 50"),
        ["format gif"] = (ServiceStorage.Base64("""{"prompt":"a cat","format":"gif"}"""), "invalid_format", "format must be png, jpeg or webp, found 'gif'"),
        ["decoder huge"] = (ServiceStorage.Base64("""{"prompt":"a cat","decoder":"huge"}"""), "invalid_decoder", "decoder must be full or tiny, found 'huge'"),
        ["previews \"yes\""] = (ServiceStorage.Base64("""{"prompt":"a cat","previews":"yes"}"""), "invalid_type", "previews must be"),
        ["quality 0"] = (ServiceStorage.Base64("""{"prompt":"a cat","format":"jpeg","quality":0}"""), "invalid_quality", "quality must be in 1..100, found 0"),
        ["replyTo Bad_Queue"] = (ServiceStorage.Base64("""{"prompt":"a cat","replyTo":"Bad_Queue"}"""), "invalid_reply_to", "replyTo must be a storage queue name"),
        ["replyTo ab"] = (ServiceStorage.Base64("""{"prompt":"a cat","replyTo":"ab"}"""), "invalid_reply_to", "found 'ab'"),
        ["control character"] = (ServiceStorage.Base64("{\"prompt\":\"a \\u0007cat\"}"), "invalid_prompt", "control character U+0007 at position 2"),
        // Far over any host's memory with unfused attention: refused up front, never run.
        ["2048x2048 count 8"] = (ServiceStorage.Base64("""{"prompt":"a cat","width":2048,"height":2048,"count":8}"""), "request_too_large", "the largest that fits with count 8 is"),
        ["empty message"] = ("", "invalid_json", "does not contain any JSON"),
        // JSON whose text is not UTF-8 (here a Latin-1 'é'), and an escape of half a surrogate pair: neither is text .NET can read.
        ["invalid UTF-8"] = (Convert.ToBase64String([.. "{\"prompt\":\"caf"u8, 0xE9, .. "\"}"u8]), "invalid_encoding", "not UTF-8 text"),
        ["lone surrogate escape"] = (ServiceStorage.Base64("""{"prompt":"a \ud800 cat"}"""), "invalid_json", "not valid JSON text"),
        // 45 KiB of prompt: about 60 KiB as base64, just inside the queue's 64 KiB.
        ["45 KiB prompt"] = (ServiceStorage.Base64($$"""{"prompt":"{{LongPrompt}}"}"""), "invalid_prompt", "prompt has 46080 characters; at most 4000 are accepted"),
    };

    public static TheoryData<string> CaseNames => new(Cases.Keys);

    [Theory]
    [MemberData(nameof(CaseNames))]
    public async Task Bad_message_fails_the_job_with_its_code_and_is_removed(string name)
    {
        var (text, code, says) = Cases[name];
        var names = fixture.NewNames();
        await using var worker = await TestWorker.StartAsync(fixture, names, output);

        string messageId = await fixture.SendRawAsync(names.JobsQueue, text);
        var status = await fixture.WaitForTerminalAsync(messageId);

        output.WriteLine(status.Json());
        Assert.Equal(JobState.Failed, status.Status);
        Assert.Equal(messageId, status.Id);
        Assert.Equal(code, status.Error!.Code);
        Assert.Contains(says, status.Error.Message);
        Assert.True(status.Error.Message.Length < 400, "the message is for people: short, no stack trace");
        Assert.DoesNotContain("Exception", status.Error.Message);
        Assert.Empty(status.Images);
        Assert.Empty(await fixture.ImageBlobsAsync(messageId));
        var failed = Assert.Single(await fixture.ReceiveEventsAsync(names.ResultsQueue!, 1));
        Assert.Equal("failed", failed.GetProperty("status").GetString());
        Assert.Equal(code, failed.GetProperty("error").GetProperty("code").GetString());
        await fixture.WaitUntilEmptyAsync(names.JobsQueue);
        Assert.Equal(0, await fixture.MessageCountAsync(names.PoisonQueue));
        Assert.True(worker.IsRunning);
    }

    [Fact]
    public async Task Worker_keeps_serving_after_a_burst_of_bad_messages()
    {
        var names = fixture.NewNames();
        await using var worker = await TestWorker.StartAsync(fixture, names, output);
        var sent = new List<(string Id, string Code)>();
        foreach (var (text, code, _) in Cases.Values) sent.Add((await fixture.SendRawAsync(names.JobsQueue, text), code));
        // A bad message that names its id fails under that id.
        string namedId = "named-" + Guid.NewGuid().ToString("N")[..8];
        await fixture.SendJsonAsync(names.JobsQueue, $$"""{"id":"{{namedId}}","prompt":"a cat","width":100}""");
        sent.Add((namedId, "invalid_width"));
        string goodId = "good-" + Guid.NewGuid().ToString("N")[..8];
        await fixture.SendJsonAsync(names.JobsQueue, $$"""{"id":"{{goodId}}","prompt":"a cat","width":64,"height":64}""");

        foreach (var (id, code) in sent)
        {
            var status = await fixture.WaitForTerminalAsync(id);
            Assert.Equal((JobState.Failed, code), (status.Status, status.Error?.Code));
        }
        var good = await fixture.WaitForTerminalAsync(goodId);
        Assert.Equal(JobState.Succeeded, good.Status);
        ServiceStorage.AssertImage(await fixture.DownloadImageAsync(Assert.Single(good.Images).Blob), "PNG", 64, 64);
        await fixture.WaitUntilEmptyAsync(names.JobsQueue);
        Assert.Equal(0, await fixture.MessageCountAsync(names.PoisonQueue));
        Assert.True(worker.IsRunning);
    }

    [Theory]
    [InlineData("""{"id":"../x","prompt":"a cat"}""", "\"../x\"")]
    [InlineData("""{"id":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","prompt":"a cat"}""", "\"aaaaaaaaaa")]
    [InlineData("""{"id":"","prompt":"a cat"}""", "found \"\"")]
    [InlineData("""{"id":"a b","prompt":"a cat"}""", "found \"a b\"")]
    [InlineData("""{"id":42,"prompt":"a cat"}""", "found 42")]
    [InlineData("""{"id":"x\udc00","prompt":"a cat"}""", "found \"x\\udc00\"")]
    public async Task Message_with_an_unusable_id_goes_to_the_poison_queue_with_the_reason(string json, string names_the_id)
    {
        var names = fixture.NewNames();
        await using var worker = await TestWorker.StartAsync(fixture, names, output);
        string text = ServiceStorage.Base64(json);

        string messageId = await fixture.SendRawAsync(names.JobsQueue, text);
        var record = Assert.Single(await fixture.ReceiveJsonAsync(names.PoisonQueue, 1));

        output.WriteLine(record.ToString());
        Assert.Equal(messageId, record.GetProperty("messageId").GetString());
        Assert.Equal(1, record.GetProperty("dequeueCount").GetInt64());
        string reason = record.GetProperty("reason").GetString()!;
        Assert.Contains("id must be a string of 1-64 characters", reason);
        Assert.Contains(names_the_id, reason);
        Assert.Equal(text, record.GetProperty("originalMessage").GetString());
        Assert.Equal(json, Encoding.UTF8.GetString(Convert.FromBase64String(record.GetProperty("originalMessage").GetString()!)));

        await fixture.WaitUntilEmptyAsync(names.JobsQueue);
        // No status under the message id nor under the id it named, and no event: there is no job to tell of.
        Assert.Null(await fixture.Statuses.GetAsync(messageId));
        if (JsonDocument.Parse(json).RootElement.GetProperty("id") is { ValueKind: JsonValueKind.String } id && !id.GetRawText().Contains('\\')
            && id.GetString() is { Length: > 0 } named && !named.Contains('/')) // "../x" is no blob name at all
            Assert.Null(await fixture.Statuses.GetAsync(named));
        Assert.Equal(0, await fixture.MessageCountAsync(names.ResultsQueue!));
        Assert.True(worker.IsRunning);
    }

    [Fact]
    public async Task A_status_document_over_its_cap_is_refused_without_being_read_whole()
    {
        var names = fixture.NewNames();
        string id = "big-" + Guid.NewGuid().ToString("N")[..8];
        await fixture.Statuses.Container.GetBlobClient($"{id}.json").UploadAsync(new BinaryData(new byte[StatusStore.MaxDocumentBytes + 1]));
        var client = new LcmJobClient(fixture.Account, new LcmJobClientOptions { Names = names });

        var refused = await Assert.ThrowsAsync<InvalidDataException>(() => client.GetStatusAsync(id));
        Assert.Contains($"over {StatusStore.MaxDocumentBytes} bytes", refused.Message);
    }

    [Fact]
    public async Task A_large_message_is_poisoned_with_a_small_record_and_its_original_in_a_blob()
    {
        var names = fixture.NewNames();
        await using var worker = await TestWorker.StartAsync(fixture, names, output);
        // 40 KB of JSON is about 54 KB as base64: the queue takes it, but a record holding it inline would not fit.
        string json = $$"""{"id":"bad id!","prompt":"{{new string('a', 40 * 1024)}}"}""";
        string text = ServiceStorage.Base64(json);

        string messageId = await fixture.SendRawAsync(names.JobsQueue, text);
        var record = Assert.Single(await fixture.ReceiveJsonAsync(names.PoisonQueue, 1));
        await fixture.WaitUntilEmptyAsync(names.JobsQueue);

        Assert.True(record.GetRawText().Length < 2048, $"{record.GetRawText().Length} characters");
        Assert.Equal(JsonValueKind.Null, record.GetProperty("originalMessage").ValueKind);
        string blob = record.GetProperty("originalBlob").GetString()!;
        Assert.Equal(PoisonRecord.BlobName(messageId), blob);
        var original = await fixture.Account.Blobs.GetBlobContainerClient(StorageNames.StatusContainer).GetBlobClient(blob).DownloadContentAsync();
        Assert.Equal(text, original.Value.Content.ToString());
    }

    [Fact]
    public async Task Message_over_the_queue_limit_is_refused_by_the_queue_and_by_the_parser()
    {
        var names = fixture.NewNames();
        await Lcm.Client.StorageSetup.EnsureCreatedAsync(fixture.Account, names);
        // 50 KiB of JSON is about 67 KiB as base64: the queue itself refuses it, so it never reaches a worker.
        string json = $$"""{"prompt":"{{new string('a', 50 * 1024)}}"}""";
        var refused = await Assert.ThrowsAsync<Azure.RequestFailedException>(() => fixture.SendJsonAsync(names.JobsQueue, json));
        output.WriteLine($"{refused.Status} {refused.ErrorCode}");
        Assert.Equal(413, refused.Status);
        // A body that arrives already decoded (the Functions host decodes base64) is checked by size first.
        var message = JobMessage.FromJson(Encoding.UTF8.GetBytes(json), "m-1");
        Assert.Equal(("m-1", JobErrorCodes.MessageTooLarge), (message.JobId, message.Error?.Code));
        Assert.Contains("at most 49152 are accepted", message.Error!.Message);
    }
}
