using Lcm.Realtime;
using Lcm.Tests.Generation;
using Microsoft.Extensions.Logging.Abstractions;

namespace Lcm.Tests.Realtime;

/// <summary>The engine loop's choice of work: round robin over the sessions, equal batch keys together, the fps cap.</summary>
public sealed class RealtimeEngineLoopTests(TestModels models) : IClassFixture<TestModels>
{
    private RealtimeSession Session(RealtimeEngineLoop loop, string id, int size)
    {
        var session = new RealtimeSession(id, 1, TimeProvider.System);
        session.SetParams(new RealtimeParams { Prompt = id, Mode = RealtimeMode.Image, Width = size, Height = size }, 1, TimeSpan.Zero, () => { });
        Assert.True(loop.TryAdd(session));
        return session;
    }

    [Fact]
    public void Sessions_with_the_same_size_and_steps_share_a_batch_and_the_next_session_goes_first_next_time()
    {
        using var loop = new RealtimeEngineLoop(models.Engine(float16: false), new RealtimeOptions { MaxFps = 1000 }, TimeProvider.System, NullLogger<RealtimeEngineLoop>.Instance);
        var (a, b, c) = (Session(loop, "a", 64), Session(loop, "b", 128), Session(loop, "c", 64));
        foreach (var s in new[] { a, b, c }) s.Offer(2, [1]);

        Assert.Equal(["a", "c"], loop.NextBatch().Batch.Select(t => t.Session.Id));
        Assert.Equal(["b"], loop.NextBatch().Batch.Select(t => t.Session.Id));
        Assert.Empty(loop.NextBatch().Batch);

        Thread.Sleep(5);
        foreach (var s in new[] { a, b, c }) s.Offer(3, [1]);
        // b went last, so c leads, and a (the same size) joins it.
        Assert.Equal(["c", "a"], loop.NextBatch().Batch.Select(t => t.Session.Id));
    }

    [Fact]
    public void The_fps_cap_holds_a_session_back_and_says_how_long()
    {
        using var loop = new RealtimeEngineLoop(models.Engine(float16: false), new RealtimeOptions { MaxFps = 2 }, TimeProvider.System, NullLogger<RealtimeEngineLoop>.Instance);
        var a = Session(loop, "a", 64);
        a.Offer(2, [1]);
        Assert.Single(loop.NextBatch().Batch);
        a.Offer(3, [1]);
        a.Offer(4, [1]);
        var (batch, wait) = loop.NextBatch();
        Assert.Empty(batch);
        Assert.InRange(wait, TimeSpan.FromMilliseconds(1), TimeSpan.FromMilliseconds(500));
        Assert.Equal(1, a.Inputs.Dropped);
    }
}
