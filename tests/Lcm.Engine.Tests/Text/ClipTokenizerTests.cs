using System.Text.Json;
using Lcm.Engine.Loaders;
using Lcm.Engine.Text;
using Xunit;

namespace Lcm.Tests.Text;

public class ClipTokenizerTests
{
    private const int ClipEndOfText = 49407;

    private sealed record Vector(string Prompt, int[] Ids);

    private static ClipTokenizer SharedTokenizer() => ClipTokenizer.FromFiles(
        SharedData.PathOf("clip-tokenizer/vocab.json"), SharedData.PathOf("clip-tokenizer/merges.txt"));

    private static Vector[] SharedVectors() => JsonSerializer.Deserialize<Vector[]>(
        File.ReadAllText(SharedData.PathOf("clip-tokenizer/vectors.json")),
        new JsonSerializerOptions { PropertyNameCaseInsensitive = true })!;

    [Fact]
    public void EveryReferenceVectorGivesIdenticalIds()
    {
        var tokenizer = SharedTokenizer();
        var vectors = SharedVectors();

        var mismatches = vectors
            .Select(v => (v.Prompt, Expected: v.Ids, Actual: tokenizer.Encode(v.Prompt).Ids))
            .Where(m => !m.Expected.SequenceEqual(m.Actual))
            .Select(m => $"{JsonSerializer.Serialize(m.Prompt)}\n  expected {string.Join(",", m.Expected)}\n  actual   {string.Join(",", m.Actual)}")
            .ToList();

        Assert.NotEmpty(vectors);
        Assert.True(mismatches.Count == 0, string.Join("\n", mismatches));
    }

    [Fact]
    public void SharedVocabularyHasClipShape()
    {
        var tokenizer = SharedTokenizer();

        Assert.Equal(49408, tokenizer.VocabularySize);
        Assert.Equal(ClipEndOfText, tokenizer.Encode("").Ids[1]);
    }

    [Fact]
    public void ConcurrentEncodingGivesTheSameIdsAsSequential()
    {
        var prompts = SharedVectors().Select(v => v.Prompt).ToArray();
        var expected = prompts.Select(SharedTokenizer().Encode).Select(t => t.Ids).ToArray();
        var tokenizer = SharedTokenizer();

        var actual = new int[prompts.Length * 20][];
        Parallel.For(0, actual.Length, i => actual[i] = tokenizer.Encode(prompts[i % prompts.Length]).Ids);

        for (var i = 0; i < actual.Length; i++)
            Assert.Equal(expected[i % prompts.Length], actual[i]);
    }

    [Fact]
    public void MergesByRankAndMarksTheLastSymbolOfEachWord()
    {
        using var folder = TinyClipFolder.Create();
        var tokenizer = ClipTokenizer.FromFolder(folder.Path);

        var ids = tokenizer.Encode("hello hell!").Ids;

        int[] hell = [TinyClipFolder.He, TinyClipFolder.ByteId('l', false), TinyClipFolder.ByteId('l', true)];
        Assert.Equal([TinyClipFolder.StartOfText, TinyClipFolder.Hello, .. hell, TinyClipFolder.ExclamationEnd, TinyClipFolder.EndOfText],
            ids[..7]);
    }

    [Fact]
    public void CleansTextLikeThePythonReference()
    {
        using var folder = TinyClipFolder.Create();
        var tokenizer = ClipTokenizer.FromFolder(folder.Path);

        // Unescaped twice; U+001C is white space to Python but not to char.IsWhiteSpace.
        var messy = tokenizer.Encode(" \t HELLO\u001c&amp;amp;\n\n Hello  ");

        Assert.Equal(tokenizer.Encode("hello & hello").Ids, messy.Ids);
        Assert.Equal(3, messy.TokenCount);
    }

    [Theory]
    [InlineData("İstanbul", "i\u0307stanbul")]
    [InlineData("ΟΔΟΣ ΣΑ Σ", "οδος σα σ")]
    public void LowerCasesLikePython(string text, string pythonLower)
    {
        using var folder = TinyClipFolder.Create();
        var tokenizer = ClipTokenizer.FromFolder(folder.Path);

        Assert.Equal(tokenizer.Encode(pythonLower).Ids, tokenizer.Encode(text).Ids);
    }

    [Fact]
    public void SpecialTokensInTheTextMapToTheirIds()
    {
        using var folder = TinyClipFolder.Create();
        var tokenizer = ClipTokenizer.FromFiles(folder.VocabPath, folder.MergesPath, padToken: "!");

        var ids = tokenizer.Encode("<|startoftext|>hello<|ENDOFTEXT|>").Ids;

        Assert.Equal([TinyClipFolder.StartOfText, TinyClipFolder.StartOfText, TinyClipFolder.Hello,
            TinyClipFolder.EndOfText, TinyClipFolder.EndOfText, TinyClipFolder.Exclamation], ids[..6]);
    }

    [Fact]
    public void LongPromptIsTruncatedBetweenBosAndEos()
    {
        using var folder = TinyClipFolder.Create();
        var tokenizer = ClipTokenizer.FromFolder(folder.Path);

        var prompt = tokenizer.Encode(string.Join(" ", Enumerable.Repeat("hello", 100)));

        Assert.Equal(ClipTokenizer.MaxLength, prompt.Ids.Length);
        Assert.True(prompt.Truncated);
        Assert.Equal(100, prompt.TokenCount);
        Assert.Equal(TinyClipFolder.StartOfText, prompt.Ids[0]);
        Assert.All(prompt.Ids[1..^1], id => Assert.Equal(TinyClipFolder.Hello, id));
        Assert.Equal(TinyClipFolder.EndOfText, prompt.Ids[^1]);
    }

    [Fact]
    public void PromptOfExactly75TokensIsNotTruncated()
    {
        using var folder = TinyClipFolder.Create();
        var tokenizer = ClipTokenizer.FromFolder(folder.Path);

        var prompt = tokenizer.Encode(string.Join(" ", Enumerable.Repeat("hello", 75)));

        Assert.False(prompt.Truncated);
        Assert.Equal(75, prompt.TokenCount);
        Assert.Equal(TinyClipFolder.EndOfText, prompt.Ids[^1]);
    }

    [Fact]
    public void PadsWithEndOfTextWithoutTokenizerConfig()
    {
        using var folder = TinyClipFolder.Create();

        var ids = ClipTokenizer.FromFolder(folder.Path).Encode("hello").Ids;

        Assert.Equal([TinyClipFolder.StartOfText, TinyClipFolder.Hello], ids[..2]);
        Assert.All(ids[2..], id => Assert.Equal(TinyClipFolder.EndOfText, id));
    }

    [Theory]
    [InlineData("""{"pad_token": "!"}""")]
    [InlineData("""{"pad_token": {"__type": "AddedToken", "content": "!", "lstrip": false}}""")]
    public void PadTokenComesFromTokenizerConfig(string config)
    {
        using var folder = TinyClipFolder.Create(config);

        var ids = ClipTokenizer.FromFolder(folder.Path).Encode("hello").Ids;

        Assert.Equal([TinyClipFolder.StartOfText, TinyClipFolder.Hello, TinyClipFolder.EndOfText], ids[..3]);
        Assert.All(ids[3..], id => Assert.Equal(TinyClipFolder.Exclamation, id));
    }

    [Fact]
    public void MissingVocabularyNamesTheFile()
    {
        using var folder = TinyClipFolder.Create();
        File.Delete(folder.VocabPath);

        var error = Assert.Throws<ModelFormatException>(() => ClipTokenizer.FromFolder(folder.Path));

        Assert.Contains(folder.VocabPath, error.Message);
    }

    [Fact]
    public void MalformedMergeNamesFileAndLine()
    {
        using var folder = TinyClipFolder.Create();
        File.AppendAllLines(folder.MergesPath, ["h e l"]);

        var error = Assert.Throws<ModelFormatException>(() => ClipTokenizer.FromFolder(folder.Path));

        Assert.Contains($"{folder.MergesPath} line 6", error.Message);
    }

    [Fact]
    public void MalformedVocabularyNamesTheFile()
    {
        using var folder = TinyClipFolder.Create();
        File.WriteAllText(folder.VocabPath, "[1, 2]");

        var error = Assert.Throws<ModelFormatException>(() => ClipTokenizer.FromFolder(folder.Path));

        Assert.Contains(folder.VocabPath, error.Message);
    }

    [Fact]
    public void PadTokenOutsideTheVocabularyNamesTokenizerConfig()
    {
        using var folder = TinyClipFolder.Create("""{"pad_token": "<pad>"}""");

        var error = Assert.Throws<ModelFormatException>(() => ClipTokenizer.FromFolder(folder.Path));

        Assert.Contains("tokenizer_config.json", error.Message);
        Assert.Contains("<pad>", error.Message);
    }
}
