using System.Text.Json;

namespace Lcm.Tests.Text;

/// <summary>
/// A complete CLIP tokenizer folder with only four merges, written to a temporary folder,
/// for tests that must not depend on the shared vocabulary.
/// Ids follow CLIP's layout: 256 byte symbols, the same with "&lt;/w&gt;", merges, then the specials.
/// </summary>
public sealed class TinyClipFolder : IDisposable
{
    public const int Exclamation = 0;          // "!" is the first byte symbol, as in CLIP.
    public const int ExclamationEnd = 256;     // "!</w>"
    public const int He = 512;
    public const int Hello = 515;              // "hello</w>"
    public const int StartOfText = 516;
    public const int EndOfText = 517;

    private static readonly string[] Merges = ["h e", "l l", "he ll", "hell o</w>"];

    private TinyClipFolder(string path) => Path = path;

    public string Path { get; }
    public string VocabPath => System.IO.Path.Combine(Path, "vocab.json");
    public string MergesPath => System.IO.Path.Combine(Path, "merges.txt");

    public static int ByteId(char c, bool endOfWord) =>
        Array.IndexOf(ByteSymbols(), c.ToString()) + (endOfWord ? 256 : 0);

    public static TinyClipFolder Create(string? tokenizerConfigJson = null)
    {
        var folder = new TinyClipFolder(Directory.CreateTempSubdirectory("tiny-clip-").FullName);
        var symbols = ByteSymbols();
        var tokens = symbols.Concat(symbols.Select(s => s + "</w>"))
            .Concat(Merges.Select(m => m.Replace(" ", "")))
            .Append("<|startoftext|>").Append("<|endoftext|>");
        var vocab = tokens.Select((token, id) => (token, id)).ToDictionary(t => t.token, t => t.id);

        File.WriteAllText(folder.VocabPath, JsonSerializer.Serialize(vocab));
        File.WriteAllLines(folder.MergesPath, ["#version: 0.2", .. Merges]);
        if (tokenizerConfigJson is not null)
            File.WriteAllText(System.IO.Path.Combine(folder.Path, "tokenizer_config.json"), tokenizerConfigJson);
        return folder;
    }

    public void Dispose() => Directory.Delete(Path, recursive: true);

    // GPT-2's bytes_to_unicode, written out independently of the code under test.
    private static string[] ByteSymbols()
    {
        var printable = Enumerable.Range('!', '~' - '!' + 1)
            .Concat(Enumerable.Range('¡', '¬' - '¡' + 1))
            .Concat(Enumerable.Range('®', 'ÿ' - '®' + 1))
            .ToList();
        var others = Enumerable.Range(0, 256).Except(printable).Select((_, n) => 256 + n);
        return printable.Concat(others).Select(c => ((char)c).ToString()).ToArray();
    }
}
