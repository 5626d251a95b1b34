using Lcm.Engine.Models;

namespace Lcm.Engine.Guidance;

/// <summary>
/// The last batch's guided UNet steps, kept for the next batch when it has the same latent shape and
/// conditioning: a real-time session redrawing with steady params binds its UNet inputs once, not each
/// frame. One at a time, as the engine runs one batch at a time.
/// </summary>
internal sealed class LastBoundSteps(IGuidance guidance) : IDisposable
{
    private (LatentShape Shape, PromptConditioning Conditioning, IGuidedSteps Steps)? _last;

    /// <summary>Steps for this batch, and whether they were bound for it (false: the last batch's); they stay this object's to dispose.</summary>
    public (IGuidedSteps Steps, bool Bound) For(LatentShape shape, PromptConditioning conditioning)
    {
        if (_last is { } last && last.Shape == shape && last.Conditioning.SameAs(conditioning)) return (last.Steps, false);
        Dispose();
        var steps = guidance.Start(shape, conditioning);
        _last = (shape, conditioning, steps);
        return (steps, true);
    }

    public void Dispose()
    {
        _last?.Steps.Dispose();
        _last = null;
    }
}
