namespace Lcm.Engine.Pipelines;

/// <summary>
/// Which timesteps an image-to-image request runs: those of the diffusers pipeline people actually
/// use for the model's family and kind.
/// </summary>
public enum ImageToImageRule
{
    /// <summary>
    /// LatentConsistencyModelImg2ImgPipeline, for distilled SD 1.5 LCMs: the origin schedule cut to
    /// floor(original_inference_steps x strength) steps, then sampled at <c>steps</c> points.
    /// </summary>
    LcmStrength,

    /// <summary>
    /// StableDiffusionImg2ImgPipeline / StableDiffusionXLImg2ImgPipeline with LCMScheduler, for
    /// LCM-LoRA models and every SDXL-class model: the last min(floor(steps x strength), steps) of
    /// the full schedule.
    /// </summary>
    LastOfSchedule,
}
