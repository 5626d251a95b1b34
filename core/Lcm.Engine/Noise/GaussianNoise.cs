namespace Lcm.Engine.Noise;

/// <summary>
/// The seeded standard-normal generator behind every latent and every renoising step.
/// xoshiro256** seeded through SplitMix64, uniform doubles from the top 53 bits, Box-Muller in
/// float64, rounded to float32. Fully specified here, so a seed means the same noise on every
/// machine and .NET version (System.Random's algorithm is not guaranteed).
/// </summary>
internal sealed class GaussianNoise
{
    private ulong _s0, _s1, _s2, _s3;
    private double? _spare;

    public GaussianNoise(ulong seed)
    {
        ulong x = seed;
        _s0 = SplitMix(ref x);
        _s1 = SplitMix(ref x);
        _s2 = SplitMix(ref x);
        _s3 = SplitMix(ref x);
    }

    public void Fill(Span<float> destination)
    {
        for (int i = 0; i < destination.Length; i++) destination[i] = (float)NextGaussian();
    }

    private double NextGaussian()
    {
        if (_spare is double spare)
        {
            _spare = null;
            return spare;
        }
        // 1 - u keeps the logarithm's argument in (0, 1].
        double u1 = 1.0 - NextUniform(), u2 = NextUniform();
        double radius = Math.Sqrt(-2.0 * Math.Log(u1)), angle = 2.0 * Math.PI * u2;
        _spare = radius * Math.Sin(angle);
        return radius * Math.Cos(angle);
    }

    private double NextUniform() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    private ulong NextUInt64()
    {
        ulong result = ulong.RotateLeft(_s1 * 5, 7) * 9;
        ulong t = _s1 << 17;
        _s2 ^= _s0;
        _s3 ^= _s1;
        _s1 ^= _s2;
        _s0 ^= _s3;
        _s2 ^= t;
        _s3 = ulong.RotateLeft(_s3, 45);
        return result;
    }

    private static ulong SplitMix(ref ulong x)
    {
        ulong z = x += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
