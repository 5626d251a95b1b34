namespace Lcm.Engine.Loaders.Lora;

/// <summary>A LoRA as a request names it: a name in the worker's LoRA folder and a scale.</summary>
public sealed record LoraReference(string Name, double Scale = 1.0);

/// <summary>A LoRA resolved to its file, with the scale it is merged at.</summary>
public sealed record LoraFile(string Name, string Path, double Scale)
{
    public LoraReference Reference => new(Name, Scale);
}
