using Lcm.Jobs;
using Lcm.Realtime;

// LCM_MODEL_PATH is the model; Container Apps gives the port in PORT (8080 by default).
string modelPath = Environment.GetEnvironmentVariable("LCM_MODEL_PATH") is { Length: > 0 } model ? model
    : throw new InvalidOperationException("LCM_MODEL_PATH must name the model folder");
string port = Environment.GetEnvironmentVariable("PORT") is { Length: > 0 } p ? p : "8080";
var app = RealtimeApp.Build(modelPath, $"http://0.0.0.0:{port}", RealtimeOptions.Read(Environment.GetEnvironmentVariable),
    EngineSettings.ReadEngine());
await app.RunAsync();
