using System.Text;

namespace Lcm.SyntheticModels;

/// <summary>
/// A small byte-level BPE vocabulary in CLIP's format, trained here on a built-in word list so
/// tests need no downloaded tokenizer. Token order follows CLIP: the 256 byte symbols, the same
/// with <c>&lt;/w&gt;</c>, one token per merge, then the start and end tokens.
/// </summary>
internal sealed class ClipBpeVocabulary
{
    public const string StartOfText = "<|startoftext|>";
    public const string EndOfText = "<|endoftext|>";
    private const string EndOfWord = "</w>";

    // Prompt-like words, most frequent first; training merges pairs until each is one token.
    private static readonly string[] TrainingWords =
    [
        "a", "the", "of", "and", "in", "with", "photo", "portrait", "cat", "dog", "painting", "beautiful",
        "landscape", "city", "night", "sunset", "mountain", "forest", "river", "lake", "sea", "ocean", "sky",
        "cloud", "light", "dark", "red", "blue", "green", "yellow", "white", "black", "golden", "old", "young",
        "man", "woman", "girl", "boy", "house", "street", "car", "tree", "flower", "garden", "detailed", "high",
        "quality", "realistic", "style", "art", "digital", "oil", "watercolor", "by", "on", "at", "an", "is",
        "astronaut", "riding", "horse", "castle", "dragon", "robot", "space", "star", "moon", "sun", "snow",
        "rain", "winter", "summer", "spring", "autumn", "morning", "evening", "cinematic", "lighting", "sharp",
        "focus", "soft", "bright", "colorful", "fantasy", "magic", "ancient", "modern", "futuristic", "small",
        "big", "little", "happy", "cute", "fluffy", "wooden", "stone", "glass", "water", "fire", "ice",
        "window", "room", "table", "chair", "book", "coffee", "cup", "food", "fruit", "apple", "bird", "fish",
        "face", "eyes", "hair", "dress", "hat", "smile", "standing", "sitting", "walking", "looking", "field",
        "beach", "island", "village", "bridge", "road", "path", "photograph", "camera", "lens", "trending",
        "artstation", "masterpiece", "best", "ultra", "render", "illustration", "concept", "character",
        "animal", "fox", "wolf", "bear", "lion", "tiger", "owl",
    ];

    /// <summary>Tokens in id order.</summary>
    public IReadOnlyList<string> Tokens { get; }

    /// <summary>Merges in rank order; each joins to a token in <see cref="Tokens"/>.</summary>
    public IReadOnlyList<(string Left, string Right)> Merges { get; }

    private ClipBpeVocabulary(List<string> tokens, List<(string, string)> merges)
    {
        Tokens = tokens;
        Merges = merges;
    }

    public static ClipBpeVocabulary Build()
    {
        var byteSymbols = ByteSymbols();
        var tokens = byteSymbols.Select(b => b.Symbol).ToList();
        tokens.AddRange(byteSymbols.Select(b => b.Symbol + EndOfWord));
        var merges = TrainMerges(byteSymbols.OrderBy(b => b.Byte).Select(b => b.Symbol).ToArray());
        var known = new HashSet<string>(tokens);
        // Different merges can join to the same string ("t he</w>", "th e</w>"); it gets one id.
        tokens.AddRange(merges.Select(m => m.Left + m.Right).Where(known.Add));
        tokens.Add(StartOfText);
        tokens.Add(EndOfText);
        return new ClipBpeVocabulary(tokens, merges);
    }

    /// <summary>Writes vocab.json and merges.txt into <paramref name="directory"/>.</summary>
    public void Write(string directory)
    {
        Directory.CreateDirectory(directory);
        var vocab = new Dictionary<string, int>();
        for (int id = 0; id < Tokens.Count; id++)
            vocab[Tokens[id]] = id;
        ModelJson.Write(Path.Combine(directory, "vocab.json"), vocab);

        var merges = new StringBuilder("#version: 0.2\n");
        foreach (var (left, right) in Merges)
            merges.Append(left).Append(' ').Append(right).Append('\n');
        File.WriteAllText(Path.Combine(directory, "merges.txt"), merges.ToString());
    }

    /// <summary>
    /// GPT-2's bytes_to_unicode as (byte, symbol) pairs in vocabulary order: printable bytes stand
    /// for themselves and come first, the rest map to U+0100 onwards.
    /// </summary>
    private static (byte Byte, string Symbol)[] ByteSymbols()
    {
        static bool Printable(int b) => b is >= '!' and <= '~' or >= '¡' and <= '¬' or >= '®' and <= 'ÿ';
        var printable = Enumerable.Range(0, 256).Where(Printable).Select(b => ((byte)b, ((char)b).ToString()));
        var others = Enumerable.Range(0, 256).Where(b => !Printable(b)).Select((b, n) => ((byte)b, ((char)(256 + n)).ToString()));
        return [.. printable, .. others];
    }

    /// <summary>Plain BPE training: repeatedly merge the most frequent adjacent pair, ties broken by ordinal order.</summary>
    private static List<(string Left, string Right)> TrainMerges(string[] symbolOfByte)
    {
        var words = TrainingWords.Select((word, rank) =>
        {
            var symbols = Encoding.UTF8.GetBytes(word).Select(b => symbolOfByte[b]).ToList();
            symbols[^1] += EndOfWord;
            return (Symbols: symbols, Frequency: TrainingWords.Length - rank);
        }).ToList();

        var merges = new List<(string, string)>();
        while (true)
        {
            var counts = new Dictionary<(string, string), int>();
            foreach (var (symbols, frequency) in words)
                for (int i = 0; i + 1 < symbols.Count; i++)
                    counts[(symbols[i], symbols[i + 1])] = counts.GetValueOrDefault((symbols[i], symbols[i + 1])) + frequency;
            if (counts.Count == 0)
                return merges;

            var best = counts
                .OrderByDescending(c => c.Value)
                .ThenBy(c => c.Key.Item1, StringComparer.Ordinal)
                .ThenBy(c => c.Key.Item2, StringComparer.Ordinal)
                .First().Key;
            merges.Add(best);
            foreach (var (symbols, _) in words)
                for (int i = 0; i + 1 < symbols.Count; i++)
                    if (symbols[i] == best.Item1 && symbols[i + 1] == best.Item2)
                    {
                        symbols[i] += symbols[i + 1];
                        symbols.RemoveAt(i + 1);
                    }
        }
    }
}
