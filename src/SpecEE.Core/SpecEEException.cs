namespace SpecEE.Core;

/// <summary>
/// Base of every error the library reports to a user on purpose: bad files, bad arguments, no device.
/// The CLI prints <see cref="Exception.Message"/> alone and exits non-zero; anything else is a bug.
/// </summary>
public class SpecEEException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>A model, tokenizer or predictor file is missing, truncated, corrupt or does not match its config.</summary>
public sealed class ModelFormatException(string message, Exception? inner = null) : SpecEEException(message, inner);

/// <summary>A request the engine cannot serve: prompt longer than the context, bad option values.</summary>
public sealed class InvalidRequestException(string message) : SpecEEException(message);
