using Xunit;

namespace Lcm.Tests.Infra;

/// <summary>
/// The image cannot be built here (no Docker engine), so these pin down the parts of the
/// Dockerfile that other pieces rely on: the publish command, the base images, the CUDA
/// libraries, the settings and the model folder.
/// </summary>
public class DockerfileTests
{
    private static readonly string Dockerfile = File.ReadAllText(Path.Combine(BicepCli.RepoRoot, "Dockerfile"));

    private static readonly string[] DockerIgnore = File.ReadAllLines(Path.Combine(BicepCli.RepoRoot, ".dockerignore"))
        .Select(l => l.Trim())
        .Where(l => l.Length > 0 && !l.StartsWith('#'))
        .ToArray();

    [Fact]
    public void BuildStage_PublishesTheFunctionsProjectReadyToRun()
    {
        Assert.Contains("FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build", Dockerfile);
        Assert.Contains(
            "dotnet publish functions/Lcm.Functions.csproj -c Release -r linux-x64 --self-contained false \\\n" +
            "        -p:PublishReadyToRun=true -o /home/site/wwwroot",
            Dockerfile.Replace("\r\n", "\n"));
        Assert.Contains("COPY --from=build /home/site/wwwroot /home/site/wwwroot", Dockerfile);
    }

    [Fact]
    public void RuntimeStage_HasFfmpegForVideoJobs()
    {
        string runtime = Dockerfile[Dockerfile.IndexOf("AS runtime", StringComparison.Ordinal)..];
        Assert.Contains("apt-get install -y --no-install-recommends ffmpeg", runtime);
    }

    [Fact]
    public void RuntimeStage_IsTheFunctionsDotnetIsolated10Image()
    {
        Assert.Contains("ARG FUNCTIONS_BASE=mcr.microsoft.com/azure-functions/dotnet-isolated:4-dotnet-isolated10.0", Dockerfile);
        Assert.Contains("FROM ${FUNCTIONS_BASE} AS runtime", Dockerfile);
        Assert.Contains("AzureWebJobsScriptRoot=/home/site/wwwroot", Dockerfile);
        Assert.Contains("AzureFunctionsJobHost__Logging__Console__IsEnabled=true", Dockerfile);
    }

    [Fact]
    public void Cuda13AndCudnn9_ComeFromNvidiasRepo()
    {
        Assert.Contains("cuda-keyring_1.1-1_all.deb", Dockerfile);
        Assert.Contains("ARG CUDA_VERSION=13-0", Dockerfile);
        foreach (var package in new[] { "cuda-cudart-", "libcublas-", "libcufft-", "libcurand-", "libcudnn9-cuda-" })
        {
            Assert.Contains(package + "${CUDA_VERSION", Dockerfile);
        }
        // The build checks that the loader can find what ONNX Runtime's CUDA provider needs.
        foreach (var soname in new[] { "libcudart.so.13", "libcublas.so.13", "libcublasLt.so.13", "libcurand.so.10", "libcudnn.so.9" })
        {
            Assert.Contains(soname, Dockerfile);
        }
    }

    [Fact]
    public void RuntimeStage_RunsAsAFixedNonRootUser_ThatOwnsOnlyTheCache()
    {
        string runtime = Dockerfile[Dockerfile.IndexOf("AS runtime", StringComparison.Ordinal)..];
        Assert.Contains("useradd --system --uid 10001 --gid 10001", runtime);
        Assert.Contains("chown 10001:10001 /home/site/cache", runtime);
        Assert.Single(runtime.Split('\n'), l => l.Contains("chown", StringComparison.Ordinal));
        Assert.Contains("LCM_CACHE_DIR=/home/site/cache", runtime);
        // The last USER wins, and nothing after it may need root.
        var lines = runtime.Split('\n').Select(l => l.Trim()).ToList();
        int user = lines.FindLastIndex(l => l.StartsWith("USER ", StringComparison.Ordinal));
        Assert.Equal("USER 10001:10001", lines[user]);
        Assert.DoesNotContain(lines.Skip(user), l => l.StartsWith("RUN ", StringComparison.Ordinal));
    }

    [Fact]
    public void RuntimeStage_ListensOn8080()
    {
        Assert.Contains("ASPNETCORE_URLS=http://+:8080", Dockerfile);
        Assert.Contains("EXPOSE 8080", Dockerfile);
    }

    [Fact]
    public void ModelFolder_IsOptionalAndInTheBuildContext()
    {
        Assert.Contains("ARG MODEL_DIR=infra/docker/no-model", Dockerfile);
        Assert.Contains("COPY ${MODEL_DIR}/ /home/site/model/", Dockerfile);
        Assert.True(Directory.EnumerateFiles(Path.Combine(BicepCli.RepoRoot, "infra", "docker", "no-model")).Any());
        Assert.DoesNotContain(DockerIgnore, p => p.TrimEnd('/') is "infra" or "infra/docker" or "functions" or "core");
        Assert.Contains("tests/", DockerIgnore);
        Assert.Contains("**/bin/", DockerIgnore);
        Assert.Contains("**/obj/", DockerIgnore);
    }
}
