using Lcm.Tests.Generation;
using OpenQA.Selenium;
using OpenQA.Selenium.Chrome;
using OpenQA.Selenium.Support.UI;

namespace Lcm.Tests.Realtime;

/// <summary>
/// The page in Debian's headless Chromium (chromedriver, Selenium), with Chromium's fake camera: a prompt
/// typed in gives pictures that decode and change with it, and the camera gives a stream of them.
/// Not skipped without Chromium: .ci/run installs it.
/// </summary>
public sealed class RealtimePageBrowserTests(TestModels models) : IClassFixture<TestModels>
{
    private const string Chromium = "/usr/bin/chromium", Driver = "/usr/bin/chromedriver";

    [Fact]
    public async Task The_page_shows_frames_that_change_with_the_prompt_and_streams_the_camera()
    {
        Assert.True(File.Exists(Chromium) && File.Exists(Driver), $"{Chromium} and {Driver} are needed: apt-get install chromium chromium-driver (.ci/run does)");
        await using var server = await RealtimeServer.StartAsync(models.Fp32Path);
        var options = new ChromeOptions { BinaryLocation = Chromium };
        options.AddArguments("--headless=new", "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream", "--no-sandbox", "--window-size=1200,900");
        using var service = ChromeDriverService.CreateDefaultService(Path.GetDirectoryName(Driver)!, Path.GetFileName(Driver));
        service.HideCommandPromptWindow = true;
        using var browser = new ChromeDriver(service, options, TimeSpan.FromSeconds(60));
        var wait = new WebDriverWait(browser, TimeSpan.FromSeconds(60));

        browser.Navigate().GoToUrl(new Uri(server.Http, "/?size=128"));
        var prompt = browser.FindElement(By.Id("prompt"));
        prompt.Clear();
        prompt.SendKeys("a lighthouse at dusk");
        byte[] first = LatestFrame(browser, wait, after: 0, prompt: "a lighthouse at dusk");

        prompt.Clear();
        prompt.SendKeys("a red boat on a green sea");
        byte[] second = LatestFrame(browser, wait, after: Frames(browser), prompt: "a red boat on a green sea");
        Assert.NotEqual(first, second);

        browser.ExecuteScript("const s = document.getElementById('source'); s.value = 'camera'; s.dispatchEvent(new Event('change'));");
        int before = Frames(browser);
        wait.Until(_ => Frames(browser) >= before + 5);
        Assert.Equal((128, 128), RealtimeServer.Decode(OutputBytes(browser)));
        Assert.Matches(@"fps \d+\.\d · latency \d+ ms", browser.FindElement(By.Id("stats")).Text);
        Assert.Equal("", browser.FindElement(By.Id("error")).Text);

        string screenshot = Path.Combine(models.NewDirectory("browser"), "realtime-page.png");
        browser.GetScreenshot().SaveAsFile(screenshot);
        Assert.True(new FileInfo(screenshot).Length > 0);
    }

    /// <summary>The picture shown once a frame newer than <paramref name="after"/> answers the last params (the prompt as typed), as JPEG bytes.</summary>
    private static byte[] LatestFrame(ChromeDriver browser, WebDriverWait wait, int after, string prompt)
    {
        // Every key sends params; the frame that answers the last of them is the prompt's picture.
        wait.Until(_ => Frames(browser) > after && browser.ExecuteScript("return window.lastAnswered === messages && document.getElementById('prompt').value === arguments[0]", prompt) is true);
        byte[] jpeg = OutputBytes(browser);
        Assert.Equal((128, 128), RealtimeServer.Decode(jpeg));
        return jpeg;
    }

    private static int Frames(ChromeDriver browser) =>
        int.TryParse(browser.FindElement(By.Id("output")).GetDomAttribute("data-frames"), out int frames) ? frames : 0;

    private static byte[] OutputBytes(ChromeDriver browser) => Convert.FromBase64String((string)browser.ExecuteAsyncScript("""
        const done = arguments[arguments.length - 1];
        fetch(document.getElementById('output').src).then(r => r.arrayBuffer()).then(buffer => {
          let text = ''; for (const b of new Uint8Array(buffer)) text += String.fromCharCode(b);
          done(btoa(text));
        });
        """)!);
}
