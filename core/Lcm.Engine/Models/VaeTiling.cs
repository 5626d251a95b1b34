namespace Lcm.Engine.Models;

/// <summary>
/// diffusers' AutoencoderKL tiling (<c>enable_vae_tiling</c>: <c>tiled_decode</c> and <c>_tiled_encode</c>):
/// the input is cut into square tiles that overlap by a quarter, each tile runs through the graph on its
/// own, and each output tile is blended linearly into the one above and the one to its left over a
/// quarter of a tile, then cropped, so memory follows the tile instead of the image. The blends happen in
/// place in row-major order, as diffusers' do, so a tile blends into neighbours that are already blended.
/// </summary>
/// <param name="PixelTile">The tile a side in image pixels: the decoder's output tile, the encoder's input tile.</param>
public sealed record VaeTiling(int PixelTile)
{
    /// <summary>diffusers' <c>tile_overlap_factor</c>.</summary>
    public const double OverlapFactor = 0.25;

    /// <summary>The smallest tile the engine picks: below it the overlap is a handful of latent pixels.</summary>
    public const int MinPixelTile = 128;

    /// <summary>diffusers tiles only when a side is over the tile (<c>z.shape[-1] &gt; tile_latent_min_size</c>, in pixels alike).</summary>
    public bool Applies(int pixelWidth, int pixelHeight) => pixelWidth > PixelTile || pixelHeight > PixelTile;

    /// <summary>Latents [channels, h, w] to image planes [outChannels, 8h, 8w], one latent tile of <see cref="PixelTile"/>/8 at a time.</summary>
    public float[] Decode(float[] latents, int channels, int height, int width, Func<Planes, Planes> decodeTile) =>
        Run(new Planes(latents, channels, height, width), PixelTile / 8, PixelTile, decodeTile);

    /// <summary>Image planes [channels, h, w] to latent planes [outChannels, h/8, w/8], one <see cref="PixelTile"/> tile at a time.</summary>
    public float[] Encode(float[] planes, int channels, int height, int width, Func<Planes, Planes> encodeTile) =>
        Run(new Planes(planes, channels, height, width), PixelTile, PixelTile / 8, encodeTile);

    private static float[] Run(Planes input, int inputTile, int outputTile, Func<Planes, Planes> runTile)
    {
        int stride = (int)(inputTile * (1 - OverlapFactor));
        int blend = (int)(outputTile * OverlapFactor);
        int limit = outputTile - blend;
        var rows = new List<Planes[]>();
        for (int y = 0; y < input.Height; y += stride)
        {
            var row = new List<Planes>();
            for (int x = 0; x < input.Width; x += stride)
                row.Add(runTile(input.Crop(y, x, Math.Min(inputTile, input.Height - y), Math.Min(inputTile, input.Width - x))));
            rows.Add([.. row]);
        }
        for (int i = 0; i < rows.Count; i++)
        {
            for (int j = 0; j < rows[i].Length; j++)
            {
                if (i > 0) BlendVertically(rows[i - 1][j], rows[i][j], blend);
                if (j > 0) BlendHorizontally(rows[i][j - 1], rows[i][j], blend);
            }
        }
        int outHeight = rows.Sum(row => Math.Min(limit, row[0].Height));
        int outWidth = rows[0].Sum(tile => Math.Min(limit, tile.Width));
        var output = new Planes(new float[rows[0][0].Channels * outHeight * outWidth], rows[0][0].Channels, outHeight, outWidth);
        for (int i = 0; i < rows.Count; i++)
            for (int j = 0; j < rows[i].Length; j++)
                output.Paste(rows[i][j], i * limit, j * limit, limit);
        return output.Values;
    }

    /// <summary>diffusers' <c>blend_v</c>: the top rows of <paramref name="below"/> fade in from the bottom rows of <paramref name="above"/>.</summary>
    private static void BlendVertically(Planes above, Planes below, int blend)
    {
        int extent = Math.Min(blend, Math.Min(above.Height, below.Height));
        for (int c = 0; c < below.Channels; c++)
            for (int y = 0; y < extent; y++)
            {
                double weight = y / (double)extent;
                for (int x = 0; x < below.Width; x++)
                    below[c, y, x] = above[c, above.Height - extent + y, x] * (float)(1 - weight) + below[c, y, x] * (float)weight;
            }
    }

    /// <summary>diffusers' <c>blend_h</c>: the left columns of <paramref name="right"/> fade in from the right columns of <paramref name="left"/>.</summary>
    private static void BlendHorizontally(Planes left, Planes right, int blend)
    {
        int extent = Math.Min(blend, Math.Min(left.Width, right.Width));
        for (int c = 0; c < right.Channels; c++)
            for (int y = 0; y < right.Height; y++)
                for (int x = 0; x < extent; x++)
                {
                    double weight = x / (double)extent;
                    right[c, y, x] = left[c, y, left.Width - extent + x] * (float)(1 - weight) + right[c, y, x] * (float)weight;
                }
    }

    /// <summary>One image's values as channel planes, [channels, height, width].</summary>
    public sealed record Planes(float[] Values, int Channels, int Height, int Width)
    {
        public float this[int c, int y, int x]
        {
            get => Values[(c * Height + y) * Width + x];
            set => Values[(c * Height + y) * Width + x] = value;
        }

        public Planes Crop(int top, int left, int height, int width)
        {
            var tile = new Planes(new float[Channels * height * width], Channels, height, width);
            for (int c = 0; c < Channels; c++)
                for (int y = 0; y < height; y++)
                    Values.AsSpan((c * Height + top + y) * Width + left, width).CopyTo(tile.Values.AsSpan((c * height + y) * width, width));
            return tile;
        }

        /// <summary>Copies at most <paramref name="limit"/> rows and columns of <paramref name="tile"/> to (<paramref name="top"/>, <paramref name="left"/>).</summary>
        public void Paste(Planes tile, int top, int left, int limit)
        {
            int height = Math.Min(limit, tile.Height), width = Math.Min(limit, tile.Width);
            for (int c = 0; c < Channels; c++)
                for (int y = 0; y < height; y++)
                    tile.Values.AsSpan((c * tile.Height + y) * tile.Width, width).CopyTo(Values.AsSpan((c * Height + top + y) * Width + left, width));
        }
    }
}
