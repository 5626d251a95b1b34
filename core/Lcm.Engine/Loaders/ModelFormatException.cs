namespace Lcm.Engine.Loaders;

/// <summary>
/// A model folder is missing a file or a file does not have the expected shape.
/// The message names the file, what was expected and what was found, because the person
/// who has to act on it is usually setting up a model folder, not debugging code.
/// </summary>
public sealed class ModelFormatException(string message, Exception? inner = null) : Exception(message, inner);
