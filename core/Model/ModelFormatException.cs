namespace Lcm.Core.Model;

/// <summary>A model folder that cannot be used: the message names the file, what was expected and what was found.</summary>
public sealed class ModelFormatException(string message, Exception? inner = null) : Exception(message, inner);
