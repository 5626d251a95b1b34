using System.Diagnostics;
using Lcm.Contracts;
using Lcm.Engine.Loaders;
using Microsoft.Extensions.Logging;

namespace Lcm.Engine.Memory;

/// <summary>
/// The memory a run may take, and the check that refuses a request whose estimated peak
/// (<see cref="RunMemoryEstimate"/>) is over it, with the largest size that would fit: an
/// out-of-memory on the CPU is the kernel killing the worker and every job beside it. It also picks
/// the VAE's tile (<see cref="VaeTile"/>), so that a size whose VAE pass is the peak runs in tiles
/// instead of being refused.
/// </summary>
public sealed class MemoryBudget(RunMemoryEstimate estimate, long bytes, string source, VaeTilingMode tiling = VaeTilingMode.Auto)
{
    /// <summary>Share of the device's or host's memory that runs may take by default; the rest is the runtime's, the arena's slack and the OS's.</summary>
    public const double DefaultShare = 0.8;

    public RunMemoryEstimate Estimate { get; } = estimate;
    public long Bytes { get; } = bytes;
    /// <summary>Where <see cref="Bytes"/> came from, for logs and <c>lcm info</c>.</summary>
    public string Source { get; } = source;
    public VaeTilingMode Tiling { get; } = tiling;

    public bool Fits(int width, int height, int unetBatch) => Estimate.PeakBytes(width, height, unetBatch, VaeTile(width, height)) <= Bytes;

    /// <summary>
    /// The VAE's tile a side in pixels for this size, or null for the whole image: under <see cref="VaeTilingMode.Auto"/>
    /// the VAE config's <c>sample_size</c> halved until the tile's pass fits (down to <see cref="Models.VaeTiling.MinPixelTile"/>),
    /// only when the whole image's does not.
    /// </summary>
    public int? VaeTile(int width, int height)
    {
        int configured = Estimate.VaeSampleSize;
        switch (Tiling)
        {
            case VaeTilingMode.Off:
                return null;
            case VaeTilingMode.Always:
                return new Models.VaeTiling(configured).Applies(width, height) ? configured : null;
        }
        if (Estimate.VaePeakBytes(width, height) <= Bytes) return null;
        // The smallest tile when none fits: Check then refuses the size.
        int tile = configured;
        while (tile / 2 >= Models.VaeTiling.MinPixelTile && Estimate.VaePeakBytes(tile, tile) > Bytes) tile /= 2;
        return new Models.VaeTiling(tile).Applies(width, height) ? tile : null;
    }

    /// <summary>Throws <c>request_too_large</c> when the run does not fit; <paramref name="unetBatch"/> is of the request's count.</summary>
    public void Check(int width, int height, int count, Func<int, int> unetBatch)
    {
        long needed = Estimate.PeakBytes(width, height, unetBatch(count), VaeTile(width, height));
        if (needed <= Bytes) return;
        string fit = LargestFit(width, height, unetBatch(count)) is { } size ? $"the largest that fits with count {count} is {size.Width}x{size.Height}"
            : LargestFit(width, height, unetBatch(1)) is { } single ? $"with count 1 the largest that fits is {single.Width}x{single.Height}"
            : "no size fits";
        throw new InvalidRequestException(JobErrorCodes.RequestTooLarge,
            $"{width}x{height} with count {count} needs about {Megabytes(needed)} MB, over this worker's memory budget of {Megabytes(Bytes)} MB ({Source}); {fit}");
    }

    /// <summary>The largest size of the same shape (sides multiples of 8) that fits, or null.</summary>
    private (int Width, int Height)? LargestFit(int width, int height, int unetBatch)
    {
        for (int side = Math.Max(width, height) - 8; side >= RequestLimits.MinImageSize; side -= 8)
        {
            double scale = side / (double)Math.Max(width, height);
            int w = Math.Max(RequestLimits.MinImageSize, (int)(width * scale) / 8 * 8), h = Math.Max(RequestLimits.MinImageSize, (int)(height * scale) / 8 * 8);
            if (Fits(w, h, unetBatch)) return (w, h);
        }
        return null;
    }

    /// <summary>
    /// <paramref name="configuredBytes"/> (LCM_MEMORY_BUDGET_MB) when set; otherwise <see cref="DefaultShare"/>
    /// of the GPU's memory on CUDA or of the host's (as the GC sees it, which follows a container's
    /// limit), less the weights, which stay loaded.
    /// </summary>
    public static MemoryBudget Resolve(RunMemoryEstimate estimate, long? configuredBytes, VaeTilingMode tiling, ActiveProvider provider, int cudaDevice,
        long weightBytes, ILogger logger)
    {
        if (configuredBytes is long configured) return new MemoryBudget(estimate, configured, "LCM_MEMORY_BUDGET_MB", tiling);
        long? gpu = provider == ActiveProvider.CUDA ? GpuMemoryBytes(cudaDevice, logger) : null;
        long total = gpu ?? GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
        long bytes = Math.Max(0, (long)(total * DefaultShare) - weightBytes);
        string source = $"{DefaultShare:P0} of the {(gpu is null ? "host" : "GPU")}'s {Megabytes(total)} MB less {Megabytes(weightBytes)} MB of weights; set LCM_MEMORY_BUDGET_MB to change it";
        logger.LogInformation("Memory budget for runs: {Megabytes} MB ({Source})", Megabytes(bytes), source);
        return new MemoryBudget(estimate, bytes, source, tiling);
    }

    /// <summary>ONNX Runtime's C# API does not tell a device's memory; nvidia-smi, beside every CUDA driver, does.</summary>
    private static long? GpuMemoryBytes(int device, ILogger logger)
    {
        try
        {
            using var process = Process.Start(new ProcessStartInfo("nvidia-smi", ["--query-gpu=memory.total", "--format=csv,noheader,nounits", "-i", device.ToString()])
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            })!;
            string output = process.StandardOutput.ReadToEnd();
            if (process.WaitForExit(10_000) && process.ExitCode == 0 && long.TryParse(output.Trim(), out long mib)) return mib * 1024 * 1024;
            logger.LogWarning("nvidia-smi did not report GPU {Device}'s memory; the memory budget follows the host's. Set LCM_MEMORY_BUDGET_MB for the GPU's", device);
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException)
        {
            logger.LogWarning("nvidia-smi could not run ({Reason}); the memory budget follows the host's. Set LCM_MEMORY_BUDGET_MB for the GPU's", e.Message);
        }
        return null;
    }

    private static long Megabytes(long bytes) => bytes / (1024 * 1024);
}
