using Lcm.Engine.Imaging;
using Lcm.Engine.Pipelines;
using Lcm.Realtime;
using Lcm.Tests.Generation;

namespace Lcm.Tests.Realtime;

/// <summary>/v1/realtime over a real WebSocket: Kestrel on a loopback port, the real engine on the self-made model.</summary>
public sealed class RealtimeProtocolTests(TestModels models) : IClassFixture<TestModels>
{
    private const int Size = 64;

    private static object Params(string prompt = "a lighthouse", string mode = "text", int steps = 1, long seed = 7, int size = Size, double strength = 0.5) =>
        new { type = "params", prompt, mode, steps, seed, width = size, height = size, strength };

    [Fact]
    public async Task Params_in_text_mode_give_a_frame_message_then_its_jpeg()
    {
        await using var server = await RealtimeServer.StartAsync(models.Fp32Path);
        using var client = await RealtimeClient.ConnectAsync(server.Socket);
        var ready = await client.ReceiveJsonAsync("ready");
        Assert.False(string.IsNullOrEmpty(ready.GetProperty("session").GetString()));

        await client.SendAsync(Params());
        var (frame, jpeg) = await client.ReceiveFrameAsync();
        Assert.Equal(1, frame.GetProperty("input").GetInt64());
        Assert.Equal(7, frame.GetProperty("seed").GetInt64());
        Assert.True(frame.GetProperty("generateMs").GetDouble() > 0);
        Assert.True(frame.GetProperty("queuedMs").GetDouble() >= 0);
        Assert.True(frame.GetProperty("encodeMs").GetDouble() > 0);
        Assert.Equal((Size, Size), RealtimeServer.Decode(jpeg));

        // Another prompt: another picture, answering the second message.
        await client.SendAsync(Params("a forest"));
        var (second, other) = await client.ReceiveFrameAsync();
        Assert.Equal(2, second.GetProperty("input").GetInt64());
        Assert.NotEqual(jpeg, other);
    }

    [Fact]
    public async Task An_image_mode_frame_is_the_engines_generate_of_the_same_picture_seed_params_and_decoder_as_jpeg()
    {
        var options = new RealtimeOptions { Quality = 75 };
        await using var server = await RealtimeServer.StartAsync(models.Fp32Path, options);
        using var client = await RealtimeClient.ConnectAsync(server.Socket);
        await client.ReceiveJsonAsync("ready");
        byte[] camera = RealtimeServer.Jpeg(96, 80);

        foreach (string decoder in new[] { "tiny", "full" })
        {
            await client.SendAsync(new { type = "params", prompt = "a cat", mode = "image", steps = 2, strength = 0.6, seed = 42, width = Size, height = Size, decoder });
            await client.SendFrameAsync(camera);
            var (_, jpeg) = await client.ReceiveFrameAsync();

            var expected = server.Engine.Generate(new GenerationRequest
            {
                Prompt = "a cat", Steps = 2, Strength = 0.6, Seed = 42, Width = Size, Height = Size,
                Decoder = decoder == "tiny" ? VaeDecoderKind.Tiny : VaeDecoderKind.Full,
                InitImage = ImageInput.Decode(camera, Size, Size, options.FrameLimits),
            }).Images[0];
            Assert.Equal(ImageEncoder.Encode(expected, OutputFormat.Jpeg, options.Quality), jpeg);
        }
    }

    [Fact]
    public async Task Frames_split_their_time_by_stage_and_reuse_the_prompts_embeddings_and_unet_inputs_while_the_params_stay()
    {
        await using var server = await RealtimeServer.StartAsync(models.Fp32Path);
        using var client = await RealtimeClient.ConnectAsync(server.Socket);
        await client.ReceiveJsonAsync("ready");
        await client.SendAsync(Params(mode: "image"));
        var stages = new List<System.Text.Json.JsonElement>();
        for (int i = 0; i < 2; i++)
        {
            await client.SendFrameAsync(RealtimeServer.Jpeg(Size, Size, i));
            stages.Add((await client.ReceiveFrameAsync()).Frame.GetProperty("stages"));
        }
        await client.SendAsync(Params("a forest", mode: "image"));
        await client.SendFrameAsync(RealtimeServer.Jpeg(Size, Size, 2));
        stages.Add((await client.ReceiveFrameAsync()).Frame.GetProperty("stages"));

        (int, int) Prompts(System.Text.Json.JsonElement s) => (s.GetProperty("promptsEncoded").GetInt32(), s.GetProperty("promptsReused").GetInt32());
        (int, int) Bindings(System.Text.Json.JsonElement s) => (s.GetProperty("unetBindings").GetInt32(), s.GetProperty("unetBindingsReused").GetInt32());
        Assert.Equal([(1, 0), (0, 1), (1, 0)], stages.Select(Prompts));
        Assert.Equal([(1, 0), (0, 1), (1, 0)], stages.Select(Bindings));
        Assert.All(stages, s =>
        {
            Assert.True(s.GetProperty("unetMs").GetDouble() > 0);
            Assert.True(s.GetProperty("vaeEncoderMs").GetDouble() > 0);
            Assert.True(s.GetProperty("vaeDecoderMs").GetDouble() > 0);
        });
        Assert.True(stages[0].GetProperty("textEncoderMs").GetDouble() > 0);
    }

    [Fact]
    public async Task Under_a_flood_of_frames_the_latest_wins_and_the_drops_are_counted()
    {
        await using var server = await RealtimeServer.StartAsync(models.Fp32Path, new RealtimeOptions { MaxFps = 4 });
        using var client = await RealtimeClient.ConnectAsync(server.Socket);
        await client.ReceiveJsonAsync("ready");
        await client.SendAsync(Params(mode: "image"));
        const int frames = 40;
        for (int i = 0; i < frames; i++) await client.SendFrameAsync(RealtimeServer.Jpeg(Size, Size, i));

        // Messages are numbered from 1 (the params): the last frame is message frames + 1.
        var answered = new List<long>();
        System.Text.Json.JsonElement last = default;
        while (answered.Count == 0 || answered[^1] != frames + 1)
        {
            var (frame, _) = await client.ReceiveFrameAsync();
            answered.Add(frame.GetProperty("input").GetInt64());
            last = frame;
        }
        Assert.True(answered.Count < frames / 2, $"{answered.Count} results for {frames} frames: stale frames should have been dropped");
        Assert.Equal(answered.Order(), answered);
        Assert.True(last.GetProperty("droppedInputs").GetInt64() >= frames - answered.Count);
    }

    [Fact]
    public async Task A_client_that_stops_reading_holds_up_only_itself_and_its_results_are_replaced_not_queued()
    {
        await using var server = await RealtimeServer.StartAsync(models.Fp32Path);
        using var sleeper = await RealtimeClient.ConnectAsync(server.Socket);
        using var reader = await RealtimeClient.ConnectAsync(server.Socket);
        await reader.ReceiveJsonAsync("ready");
        // The sleeper sends many frames at 256 pixels and reads nothing; the last is message asks + 1.
        const int asks = 60;
        await sleeper.SendAsync(Params(mode: "image", size: 256));
        for (int i = 0; i < asks; i++) await sleeper.SendFrameAsync(RealtimeServer.Jpeg(256, 256, i));

        await reader.SendAsync(Params());
        var (frame, _) = await reader.ReceiveFrameAsync();
        Assert.Equal(1, frame.GetProperty("input").GetInt64());

        await Task.Delay(TimeSpan.FromSeconds(2));
        await sleeper.ReceiveJsonAsync("ready");
        int results = 0;
        long dropped = 0, input = 0;
        while (input != asks + 1)
        {
            var (result, _) = await sleeper.ReceiveFrameAsync();
            (input, dropped) = (result.GetProperty("input").GetInt64(), result.GetProperty("droppedInputs").GetInt64() + result.GetProperty("droppedOutputs").GetInt64());
            results++;
        }
        Assert.True(results < asks && dropped > 0, $"{results} results, {dropped} dropped for {asks} asks");
    }

    [Fact]
    public async Task A_frame_over_the_byte_or_pixel_limit_ends_the_session_with_frame_too_large_and_1009()
    {
        var options = new RealtimeOptions { FrameLimits = new ImageInputLimits { MaxBytes = 4096, MaxDimension = 128 } };
        await using var server = await RealtimeServer.StartAsync(models.Fp32Path, options);
        using (var client = await RealtimeClient.ConnectAsync(server.Socket))
        {
            await client.ReceiveJsonAsync("ready");
            await client.SendAsync(Params(mode: "image"));
            await client.SendFrameAsync(new byte[10_000]);
            await client.AssertClosedWithAsync(RealtimeErrors.FrameTooLarge, RealtimeErrors.CloseTooLarge);
        }
        using (var client = await RealtimeClient.ConnectAsync(server.Socket))
        {
            await client.ReceiveJsonAsync("ready");
            await client.SendAsync(Params(mode: "image"));
            byte[] wide = RealtimeServer.Jpeg(256, 64);
            Assert.True(wide.Length < 4096);
            await client.SendFrameAsync(wide);
            await client.AssertClosedWithAsync(RealtimeErrors.FrameTooLarge, RealtimeErrors.CloseTooLarge);
        }
    }

    [Fact]
    public async Task Bad_json_unknown_fields_and_bad_values_are_errors_and_the_session_goes_on()
    {
        await using var server = await RealtimeServer.StartAsync(models.Fp32Path);
        using var client = await RealtimeClient.ConnectAsync(server.Socket);
        await client.ReceiveJsonAsync("ready");

        await client.SendAsync("{not json");
        Assert.Equal(RealtimeErrors.InvalidMessage, (await client.ReceiveJsonAsync("error")).GetProperty("code").GetString());
        await client.SendAsync(new { type = "params", prompt = "x", stpes = 2 });
        Assert.Equal(RealtimeErrors.InvalidMessage, (await client.ReceiveJsonAsync("error")).GetProperty("code").GetString());
        await client.SendAsync(Params(steps: 8));
        Assert.Equal(RealtimeErrors.InvalidParams, (await client.ReceiveJsonAsync("error")).GetProperty("code").GetString());
        await client.SendAsync(Params(size: 60));
        Assert.Equal("invalid_width", (await client.ReceiveJsonAsync("error")).GetProperty("code").GetString());
        await client.SendFrameAsync(RealtimeServer.Jpeg(Size, Size));
        Assert.Equal(RealtimeErrors.InvalidMessage, (await client.ReceiveJsonAsync("error")).GetProperty("code").GetString());

        await client.SendAsync(Params());
        var (frame, _) = await client.ReceiveFrameAsync();
        Assert.Equal(6, frame.GetProperty("input").GetInt64());
    }

    [Fact]
    public async Task Without_the_bearer_token_the_session_is_refused_with_unauthorized_and_4401()
    {
        await using var server = await RealtimeServer.StartAsync(models.Fp32Path, new RealtimeOptions { Auth = RealtimeAuth.Parse("token:s3cret") });
        using (var anonymous = await RealtimeClient.ConnectAsync(server.Socket))
            await anonymous.AssertClosedWithAsync(RealtimeErrors.Unauthorized, RealtimeErrors.CloseUnauthorized);
        using (var wrong = await RealtimeClient.ConnectAsync(server.Socket, bearer: "s3cre"))
            await wrong.AssertClosedWithAsync(RealtimeErrors.Unauthorized, RealtimeErrors.CloseUnauthorized);
        using (var header = await RealtimeClient.ConnectAsync(server.Socket, bearer: "s3cret"))
            await header.ReceiveJsonAsync("ready");
        using (var query = await RealtimeClient.ConnectAsync(new Uri(server.Socket + "?access_token=s3cret")))
            await query.ReceiveJsonAsync("ready");
    }

    [Fact]
    public async Task Sessions_over_the_limit_are_refused_and_idle_ones_are_closed()
    {
        await using var server = await RealtimeServer.StartAsync(models.Fp32Path, new RealtimeOptions { MaxSessions = 1, IdleTimeout = TimeSpan.FromSeconds(1) });
        using var first = await RealtimeClient.ConnectAsync(server.Socket);
        await first.ReceiveJsonAsync("ready");
        using (var second = await RealtimeClient.ConnectAsync(server.Socket))
            await second.AssertClosedWithAsync(RealtimeErrors.TooManySessions, RealtimeErrors.CloseTryAgainLater);

        await first.AssertClosedWithAsync(RealtimeErrors.IdleTimeout, RealtimeErrors.CloseIdle);
        // Its place is free again.
        using var third = await RealtimeClient.ConnectAsync(server.Socket);
        await third.ReceiveJsonAsync("ready");
    }

    [Fact]
    public async Task A_server_shutdown_tells_each_session_and_closes_it_with_1001()
    {
        var server = await RealtimeServer.StartAsync(models.Fp32Path);
        using var client = await RealtimeClient.ConnectAsync(server.Socket);
        await client.ReceiveJsonAsync("ready");
        var stopping = server.App.StopAsync();
        await client.AssertClosedWithAsync(RealtimeErrors.ServerShutdown, RealtimeErrors.CloseGoingAway);
        await stopping;
        await server.DisposeAsync();
    }

    [Fact]
    public async Task The_page_is_served_at_the_root()
    {
        await using var server = await RealtimeServer.StartAsync(models.Fp32Path);
        using var http = new HttpClient();
        string page = await http.GetStringAsync(server.Http);
        Assert.Contains("/v1/realtime", page);
        Assert.Contains("id=\"prompt\"", page);
    }
}
