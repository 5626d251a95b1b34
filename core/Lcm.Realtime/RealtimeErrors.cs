namespace Lcm.Realtime;

/// <summary>
/// The codes of <c>error</c> messages, and the WebSocket close code of those that end the session
/// (4000-4999 are the application's own range; the others are RFC 6455's). Requests the engine refuses
/// carry the engine's codes (invalid_strength, image_corrupt, ...), as a job would.
/// </summary>
public static class RealtimeErrors
{
    public const string Unauthorized = "unauthorized";
    public const string TooManySessions = "too_many_sessions";
    public const string FrameTooLarge = "frame_too_large";
    public const string InvalidMessage = "invalid_message";
    public const string InvalidParams = "invalid_params";
    public const string IdleTimeout = "idle_timeout";
    public const string ServerShutdown = "server_shutdown";
    public const string GenerationFailed = "generation_failed";

    public const int CloseUnauthorized = 4401;
    public const int CloseIdle = 4408;
    /// <summary>RFC 6455's "message too big".</summary>
    public const int CloseTooLarge = 1009;
    /// <summary>RFC 6455's "try again later".</summary>
    public const int CloseTryAgainLater = 1013;
    /// <summary>RFC 6455's "going away".</summary>
    public const int CloseGoingAway = 1001;
}
