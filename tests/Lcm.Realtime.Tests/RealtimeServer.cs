using Lcm.Engine.Imaging;
using Lcm.Realtime;
using Lcm.Tests.Generation;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Jpeg;
using SixLabors.ImageSharp.PixelFormats;

namespace Lcm.Tests.Realtime;

/// <summary>The real-time app on a free loopback port (Kestrel picks it), on a self-made model, the CPU only.</summary>
public sealed class RealtimeServer : IAsyncDisposable
{
    private RealtimeServer(WebApplication app) => App = app;

    public WebApplication App { get; }
    public Uri Http => new(App.Urls.First());
    public Uri Socket => new(App.Urls.First().Replace("http://", "ws://") + "/v1/realtime");
    public Engine.Pipelines.LcmEngine Engine => App.Services.GetRequiredService<Engine.Pipelines.LcmEngine>();

    public static async Task<RealtimeServer> StartAsync(string modelPath, RealtimeOptions? options = null)
    {
        var app = RealtimeApp.Build(modelPath, "http://127.0.0.1:0", options ?? new RealtimeOptions(), TestModels.Cpu,
            LoggerFactory.Create(logging => logging.SetMinimumLevel(LogLevel.Warning)));
        await app.StartAsync();
        return new RealtimeServer(app);
    }

    public async ValueTask DisposeAsync() => await App.DisposeAsync();

    /// <summary>A JPEG camera frame: a gradient with a disc that <paramref name="variant"/> moves.</summary>
    public static byte[] Jpeg(int width, int height, int variant = 0)
    {
        using var image = new Image<Rgb24>(width, height);
        image.ProcessPixelRows(rows =>
        {
            for (int y = 0; y < rows.Height; y++)
            {
                var row = rows.GetRowSpan(y);
                for (int x = 0; x < row.Length; x++)
                {
                    double dx = x - width * (0.3 + 0.05 * (variant % 8)), dy = y - height * 0.5;
                    row[x] = dx * dx + dy * dy < height * height / 9.0 ? new Rgb24(230, 60, 40) : new Rgb24((byte)(255 * x / width), (byte)(255 * y / height), 120);
                }
            }
        });
        using var stream = new MemoryStream();
        image.Save(stream, new JpegEncoder { Quality = 90 });
        return stream.ToArray();
    }

    /// <summary>The result's size, once its JPEG has decoded.</summary>
    public static (int Width, int Height) Decode(byte[] jpeg)
    {
        var size = ImageInput.Identify(jpeg, new ImageInputLimits());
        return (ImageInput.Decode(jpeg, size.Width, size.Height, new ImageInputLimits()) is var picture ? (picture.Width, picture.Height) : default);
    }
}
