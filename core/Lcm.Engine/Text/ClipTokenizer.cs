using System.Collections.Concurrent;
using System.Net;
using System.Text;
using System.Text.Json;
using Lcm.Engine.Loaders;

namespace Lcm.Engine.Text;

/// <summary>Text tokens of a prompt, framed and padded for the CLIP text encoder.</summary>
/// <param name="Ids"><see cref="ClipTokenizer.MaxLength"/> ids: bos, at most 75 text tokens, eos, padding.</param>
/// <param name="TokenCount">Text tokens before truncation, without bos and eos.</param>
/// <param name="Truncated">Whether text tokens were dropped to fit.</param>
public sealed record TokenizedPrompt(int[] Ids, int TokenCount, bool Truncated);

/// <summary>
/// The byte-level BPE tokenizer of CLIP as used by Stable Diffusion (CLIPTokenizer of
/// transformers), so that prompts give the same ids as the Python pipelines.
/// </summary>
public sealed class ClipTokenizer
{
    public const int MaxLength = 77;

    private const string StartOfText = "<|startoftext|>";
    private const string EndOfText = "<|endoftext|>";
    private const string EndOfWord = "</w>";

    // Prompts are user input: without a bound, arbitrary text would grow the cache forever.
    private const int MaxCachedWords = 100_000;

    private static readonly string[] Contractions = ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d"];

    private readonly int[] _byteIds;
    private readonly int[] _byteEndIds;
    private readonly Dictionary<long, (int Rank, int Id)> _merges;
    private readonly int _bos, _eos, _pad;
    // Special tokens are cut out of the text before BPE, as transformers does with its added tokens:
    // tokenizer_2 of SDXL pads with "!", so a literal "!" there is the pad id, not "!</w>".
    private readonly (string Text, int Id)[] _special;
    private readonly ConcurrentDictionary<string, int[]> _cache = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, int[]>.AlternateLookup<ReadOnlySpan<char>> _cacheBySpan;

    private ClipTokenizer(int vocabularySize, int[] byteIds, int[] byteEndIds,
        Dictionary<long, (int Rank, int Id)> merges, int bos, int eos, int pad, (string Text, int Id)[] special)
    {
        VocabularySize = vocabularySize;
        _byteIds = byteIds;
        _byteEndIds = byteEndIds;
        _merges = merges;
        (_bos, _eos, _pad) = (bos, eos, pad);
        _special = special;
        _cacheBySpan = _cache.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    public int VocabularySize { get; }

    /// <summary>The id that fills the ids after the end token.</summary>
    public int PadId => _pad;

    /// <summary>
    /// Loads a diffusers <c>tokenizer/</c> folder: vocab.json, merges.txt and, if present,
    /// tokenizer_config.json (its pad token and its <c>added_tokens_decoder</c>).
    /// </summary>
    public static ClipTokenizer FromFolder(string tokenizerDirectory)
    {
        var configPath = Path.Combine(tokenizerDirectory, "tokenizer_config.json");
        var (padToken, added) = File.Exists(configPath) ? ReadConfig(configPath) : (null, []);
        return Load(Path.Combine(tokenizerDirectory, "vocab.json"), Path.Combine(tokenizerDirectory, "merges.txt"),
            padToken, padToken is null ? null : configPath, added);
    }

    /// <param name="padToken">Defaults to <c>&lt;|endoftext|&gt;</c> (SD 1.x); SD 2 pads with "!".</param>
    public static ClipTokenizer FromFiles(string vocabPath, string mergesPath, string? padToken = null) =>
        Load(vocabPath, mergesPath, padToken, null, []);

    public TokenizedPrompt Encode(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var tokens = new List<int>();
        Split(Clean(text), tokens);

        var ids = new int[MaxLength];
        var kept = Math.Min(tokens.Count, MaxLength - 2);
        ids[0] = _bos;
        tokens.CopyTo(0, ids, 1, kept);
        ids[kept + 1] = _eos;
        ids.AsSpan(kept + 2).Fill(_pad);
        return new TokenizedPrompt(ids, tokens.Count, tokens.Count > kept);
    }

    private static string Clean(string text)
    {
        // Unescaped twice like CLIP's own cleaning, which was written for captions scraped from
        // the web. WebUtility.HtmlDecode agrees with Python's html.unescape on HTML 4 entities
        // ended by ';'; the rest (HTML 5-only names, "&amp" without ';') are rare in prompts.
        text = WebUtility.HtmlDecode(WebUtility.HtmlDecode(text));

        var clean = new StringBuilder(text.Length);
        var pendingSpace = false;
        foreach (var c in text)
        {
            if (IsSpace(c))
            {
                pendingSpace = clean.Length > 0;
                continue;
            }
            if (pendingSpace)
                clean.Append(' ');
            pendingSpace = false;
            clean.Append(c);
        }
        return ToLowerLikePython(clean.ToString().Normalize(NormalizationForm.FormC));
    }

    // The reference lower-cases with Python's str.lower, which differs from ToLowerInvariant in
    // two places: 'İ' becomes "i" plus a combining dot, and a capital sigma ending a word becomes
    // 'ς'. Python looks past case-ignorable characters to find the word's end; the neighbouring
    // characters are close enough for prompts.
    private static string ToLowerLikePython(string text)
    {
        if (text.AsSpan().IndexOfAny('\u0130', 'Σ') < 0)
            return text.ToLowerInvariant();

        var adjusted = new StringBuilder(text.Length + 4);
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (c == '\u0130')
                adjusted.Append("i\u0307");
            else if (c == 'Σ' && i > 0 && IsCased(text[i - 1]) && (i + 1 == text.Length || !IsCased(text[i + 1])))
                adjusted.Append('ς');
            else
                adjusted.Append(c);
        }
        return adjusted.ToString().ToLowerInvariant();
    }

    private static bool IsCased(char c) => char.IsUpper(c) || char.IsLower(c);

    // Python's str.isspace, which the reference uses to collapse white space: .NET's set plus
    // the ASCII separators U+001C..U+001F.
    private static bool IsSpace(char c) => char.IsWhiteSpace(c) || c is >= '\x1c' and <= '\x1f';

    private enum CharClass { Space, Letter, Number, Other }

    // By Rune, not char: the reference's \p{L} and \p{N} see code points, and a UTF-16 regex
    // would take letters and digits outside the BMP for punctuation.
    private static CharClass Classify(Rune r) =>
        r.IsBmp && IsSpace((char)r.Value) ? CharClass.Space
        : Rune.IsLetter(r) ? CharClass.Letter
        : Rune.IsNumber(r) ? CharClass.Number
        : CharClass.Other;

    // The CLIP pattern <|startoftext|>|<|endoftext|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+
    // by hand; case-insensitivity is moot as the text is already lower-case.
    private void Split(string text, List<int> tokens)
    {
        var i = 0;
        while (i < text.Length)
        {
            var rest = text.AsSpan(i);
            if (SpecialAt(rest) is var (special, specialId))
            {
                tokens.Add(specialId);
                i += special.Length;
                continue;
            }

            Rune.DecodeFromUtf16(rest, out var first, out var length);
            var kind = Classify(first);
            if (kind == CharClass.Space)
            {
                i += length;
                continue;
            }

            var contraction = ContractionLength(rest);
            if (contraction > 0)
                length = contraction;
            else if (kind != CharClass.Number)
            {
                while (length < rest.Length)
                {
                    Rune.DecodeFromUtf16(rest[length..], out var next, out var size);
                    if (Classify(next) != kind || SpecialAt(rest[length..]) is not null)
                        break;
                    length += size;
                }
            }

            AddWord(rest[..length], tokens);
            i += length;
        }
    }

    private (string Text, int Id)? SpecialAt(ReadOnlySpan<char> text)
    {
        foreach (var special in _special)
        {
            if (text.StartsWith(special.Text, StringComparison.Ordinal))
                return special;
        }
        return null;
    }

    private static int ContractionLength(ReadOnlySpan<char> text)
    {
        foreach (var contraction in Contractions)
        {
            if (text.StartsWith(contraction))
                return contraction.Length;
        }
        return 0;
    }

    private void AddWord(ReadOnlySpan<char> word, List<int> tokens)
    {
        if (!_cacheBySpan.TryGetValue(word, out var ids))
        {
            ids = Bpe(word);
            // Count locks the whole dictionary, so only pay for it on a miss.
            if (_cache.Count < MaxCachedWords)
                _cacheBySpan.TryAdd(word, ids);
        }
        tokens.AddRange(ids);
    }

    // Works on ids rather than strings: the loader checked that every merge result is in the
    // vocabulary, so ids stand for symbols one to one and no strings are built per request.
    private int[] Bpe(ReadOnlySpan<char> word)
    {
        var bytes = new byte[Encoding.UTF8.GetByteCount(word)];
        Encoding.UTF8.GetBytes(word, bytes);
        var symbols = new int[bytes.Length];
        for (var b = 0; b < bytes.Length; b++)
            symbols[b] = _byteIds[bytes[b]];
        symbols[^1] = _byteEndIds[bytes[^1]];

        var count = symbols.Length;
        while (count > 1)
        {
            var best = (Rank: int.MaxValue, Id: 0);
            var bestPair = 0L;
            for (var s = 0; s + 1 < count; s++)
            {
                var pair = Pair(symbols[s], symbols[s + 1]);
                if (_merges.TryGetValue(pair, out var merge) && merge.Rank < best.Rank)
                    (best, bestPair) = (merge, pair);
            }
            if (best.Rank == int.MaxValue)
                break;

            // Merge every occurrence, left to right without overlap, as the reference does.
            var kept = 0;
            for (var s = 0; s < count; kept++)
            {
                if (s + 1 < count && Pair(symbols[s], symbols[s + 1]) == bestPair)
                {
                    symbols[kept] = best.Id;
                    s += 2;
                }
                else
                    symbols[kept] = symbols[s++];
            }
            count = kept;
        }
        return symbols[..count];
    }

    private static long Pair(int left, int right) => (long)left << 32 | (uint)right;

    private static ClipTokenizer Load(string vocabPath, string mergesPath, string? padToken, string? padSource, string[] addedTokens)
    {
        var vocab = ReadVocabulary(vocabPath);

        int IdOf(string token, string why) => vocab.TryGetValue(token, out var id) ? id
            : throw new ModelFormatException($"{vocabPath}: expected the token '{token}' ({why}), but it is not in the vocabulary.");

        var byteIds = new int[256];
        var byteEndIds = new int[256];
        var byteChars = BytesToUnicode();
        for (var b = 0; b < 256; b++)
        {
            byteIds[b] = IdOf(byteChars[b].ToString(), "a byte-level BPE symbol");
            byteEndIds[b] = IdOf(byteChars[b] + EndOfWord, "a byte-level BPE symbol");
        }

        var bos = IdOf(StartOfText, "the start token");
        var eos = IdOf(EndOfText, "the end token");
        var pad = padToken is null ? eos
            : vocab.TryGetValue(padToken, out var padId) ? padId
            : throw new ModelFormatException(
                $"{padSource ?? vocabPath}: the pad token '{padToken}' is not in the vocabulary {vocabPath}.");

        // The longest first, so a special token that starts another never hides it.
        var special = new[] { StartOfText, EndOfText }.Concat(padToken is null ? [] : [padToken]).Concat(addedTokens)
            .Distinct(StringComparer.Ordinal)
            .Select(token => (token, IdOf(token, "a special token of the tokenizer's config")))
            .OrderByDescending(t => t.token.Length)
            .ToArray();
        return new ClipTokenizer(vocab.Count, byteIds, byteEndIds, ReadMerges(mergesPath, vocab), bos, eos, pad, special);
    }

    private static Dictionary<string, int> ReadVocabulary(string path)
    {
        RequireFile(path, "the CLIP vocabulary (a JSON object of token to id)");
        try
        {
            using var stream = File.OpenRead(path);
            return JsonSerializer.Deserialize<Dictionary<string, int>>(stream)
                ?? throw new ModelFormatException($"{path}: expected a JSON object of token to id, found null.");
        }
        catch (JsonException e)
        {
            throw new ModelFormatException($"{path}: expected a JSON object of token to integer id; {e.Message}", e);
        }
    }

    private static Dictionary<long, (int Rank, int Id)> ReadMerges(string path, Dictionary<string, int> vocab)
    {
        RequireFile(path, "the CLIP BPE merges (one 'left right' pair per line)");
        var merges = new Dictionary<long, (int Rank, int Id)>();
        var lineNumber = 0;
        foreach (var line in File.ReadLines(path))
        {
            lineNumber++;
            if (line.Length == 0 || lineNumber == 1 && line.StartsWith("#version"))
                continue;

            var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length != 2)
                throw new ModelFormatException($"{path} line {lineNumber}: expected two symbols separated by a space, found '{line}'.");

            int IdOf(string symbol) => vocab.TryGetValue(symbol, out var id) ? id
                : throw new ModelFormatException($"{path} line {lineNumber}: '{symbol}' is not in the vocabulary.");

            // The first occurrence ranks: line order is the priority.
            merges.TryAdd(Pair(IdOf(parts[0]), IdOf(parts[1])), (merges.Count, IdOf(parts[0] + parts[1])));
        }
        return merges;
    }

    /// <summary>The pad token and the contents of <c>added_tokens_decoder</c> (newer transformers write it).</summary>
    private static (string? PadToken, string[] AddedTokens) ReadConfig(string path)
    {
        try
        {
            using var document = JsonDocument.Parse(File.ReadAllBytes(path));
            if (document.RootElement.ValueKind != JsonValueKind.Object)
                throw new ModelFormatException($"{path}: expected a JSON object, found {document.RootElement.ValueKind}.");
            var added = new List<string>();
            if (document.RootElement.TryGetProperty("added_tokens_decoder", out var decoder) && decoder.ValueKind == JsonValueKind.Object)
            {
                foreach (var entry in decoder.EnumerateObject())
                    added.Add(entry.Value.ValueKind == JsonValueKind.Object && entry.Value.TryGetProperty("content", out var content)
                        && content.ValueKind == JsonValueKind.String && content.GetString() is { Length: > 0 } text
                            ? text
                            : throw new ModelFormatException($"{path}: added_tokens_decoder entry '{entry.Name}' has no string \"content\"."));
            }
            if (!document.RootElement.TryGetProperty("pad_token", out var pad))
                return (null, [.. added]);

            string? padToken = pad.ValueKind switch
            {
                JsonValueKind.Null => null,
                JsonValueKind.String => pad.GetString(),
                JsonValueKind.Object when pad.TryGetProperty("content", out var content)
                    && content.ValueKind == JsonValueKind.String => content.GetString(),
                _ => throw new ModelFormatException(
                    $"{path}: expected pad_token to be a string or an object with a string \"content\", found {pad.GetRawText()}."),
            };
            return (padToken, [.. added]);
        }
        catch (JsonException e)
        {
            throw new ModelFormatException($"{path}: expected a JSON object; {e.Message}", e);
        }
    }

    private static void RequireFile(string path, string expected)
    {
        if (!File.Exists(path))
            throw new ModelFormatException($"{path}: file not found; expected {expected}.");
    }

    // GPT-2's bytes_to_unicode: printable bytes stand for themselves, the others are shifted
    // past U+00FF so that every byte is a visible character in vocab.json and merges.txt.
    private static char[] BytesToUnicode()
    {
        var chars = new char[256];
        var next = 256;
        for (var b = 0; b < 256; b++)
            chars[b] = b is >= '!' and <= '~' or >= '¡' and <= '¬' or >= '®' and <= 'ÿ' ? (char)b : (char)next++;
        return chars;
    }
}
