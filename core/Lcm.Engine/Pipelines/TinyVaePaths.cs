namespace Lcm.Engine.Pipelines;

/// <summary>The tiny autoencoder's graphs an engine uses, each null where there is none.</summary>
internal sealed record TinyVaePaths(string? Tiny, string? Preview, string? Encoder);
