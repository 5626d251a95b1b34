using System.Globalization;

namespace Lcm.Cli;

/// <summary>The median and range of one figure over repeated runs, so a README figure says how far a re-run may land.</summary>
public sealed record Spread(double Median, double Min, double Max)
{
    public static Spread Of(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        if (sorted.Length == 0) throw new ArgumentException("a spread needs at least one value", nameof(values));
        int middle = sorted.Length / 2;
        double median = sorted.Length % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
        return new Spread(median, sorted[0], sorted[^1]);
    }

    public string Format(string number) => string.Create(CultureInfo.InvariantCulture,
        $"{Median.ToString(number, CultureInfo.InvariantCulture)} ({Min.ToString(number, CultureInfo.InvariantCulture)}-{Max.ToString(number, CultureInfo.InvariantCulture)})");
}
