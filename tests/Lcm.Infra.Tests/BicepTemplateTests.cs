using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using Xunit;

namespace Lcm.Tests.Infra;

public class BicepTemplateTests : IClassFixture<BicepFixture>
{
    private const string T4 = "Consumption-GPU-NC8as-T4";
    private const string A100 = "Consumption-GPU-NC24-A100";

    // Built-in role definition ids.
    private const string QueueDataContributor = "974c5e8b-45b9-4653-ba55-5f855dd0fb88";
    private const string BlobDataContributor = "ba92f5b4-2d11-453d-a403-e96b0029c9fe";
    private const string QueueDataMessageSender = "c6a89b2d-59bc-44d0-9896-0f6e12d7b80a";
    private const string AcrPull = "7f951dda-4ed3-4680-a7ca-43fe172d538d";
    private const string EventGridDataSender = "d5a91429-5739-47e2-a06b-3470a27159e7";
    private const string KeyVaultSecretsUser = "4633458b-17de-408a-b874-0445c86b69e6";

    // ARM expressions use single quotes; keep them readable in ToJsonString output.
    private static readonly JsonSerializerOptions Unescaped = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private readonly BicepFixture _bicep;

    public BicepTemplateTests(BicepFixture bicep) => _bicep = bicep;

    // ---- parameter sets evaluated with `bicep snapshot` ----

    private JsonArray Default => _bicep.Snapshot("default",
        "param containerImage = 'myacr.azurecr.io/lcm-functions:v1'",
        "param containerRegistryName = 'myacr'");

    private JsonArray A100WithIngress => _bicep.Snapshot("a100",
        "param containerImage = 'myacr.azurecr.io/lcm-functions:v1'",
        $"param gpuProfile = '{A100}'",
        "param executionProvider = 'cuda'",
        "param maxReplicas = 7",
        "param queueLengthPerReplica = 3",
        "param retentionDays = 3",
        "param enableHttpIngress = true");

    private JsonArray WithWebhookSecret => _bicep.Snapshot("webhook",
        "param containerImage = 'myacr.azurecr.io/lcm-functions:v1'",
        "param webhookSecret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'");

    private JsonArray CpuOnlyImageModel => _bicep.Snapshot("cpu",
        "param containerImage = 'docker.io/example/lcm-functions:cpu'",
        "param cpuOnly = true",
        "param executionProvider = 'cuda'",
        "param modelSource = 'image'");

    private JsonArray WithRealtime => _bicep.Snapshot("realtime",
        "param containerImage = 'myacr.azurecr.io/lcm-functions:v1'",
        "param containerRegistryName = 'myacr'",
        "param enableRealtime = true",
        "param realtimeSessionsPerReplica = 6",
        "param realtimeMaxReplicas = 3",
        "param realtimeAuth = 'token:rt-token-for-the-test'");

    // ---- compile and lint ----

    [Fact]
    public void Build_SucceedsWithoutErrorsOrWarnings()
    {
        Assert.True(_bicep.Build.ExitCode == 0, _bicep.Build.StdErr);
        Assert.Equal("", _bicep.Build.StdErr.Trim());
    }

    [Fact]
    public void Lint_ReportsNothing()
    {
        Assert.True(_bicep.Lint.ExitCode == 0, _bicep.Lint.StdOut + _bicep.Lint.StdErr);
        Assert.Equal("", (_bicep.Lint.StdOut + _bicep.Lint.StdErr).Trim());
    }

    [Fact]
    public void BicepConfig_OnlyRaisesRules()
    {
        // The config may make the linter stricter, never quieter.
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(BicepCli.InfraDir, "bicepconfig.json")))!;
        var rules = config["analyzers"]!["core"]!["rules"]!.AsObject();
        Assert.NotEmpty(rules);
        foreach (var (name, rule) in rules)
        {
            var level = rule!["level"]!.GetValue<string>();
            Assert.True(level is "error" or "warning", $"{name} is set to '{level}'");
        }
        Assert.NotEqual(false, config["analyzers"]!["core"]!["enabled"]?.GetValue<bool>());
    }

    [Fact]
    public void ParametersFile_OnlyUsesDeclaredParametersWithAllowedValues()
    {
        var declared = _bicep.Template["parameters"]!.AsObject();
        var file = JsonNode.Parse(File.ReadAllText(Path.Combine(BicepCli.InfraDir, "main.parameters.json")))!;
        foreach (var (name, entry) in file["parameters"]!.AsObject())
        {
            Assert.True(declared.ContainsKey(name), $"main.parameters.json sets unknown parameter '{name}'");
            var allowed = declared[name]!["allowedValues"]?.AsArray();
            if (allowed is not null)
            {
                Assert.Contains(allowed, v => JsonNode.DeepEquals(v, entry!["value"]));
            }
        }
        Assert.True(file["parameters"]!.AsObject().ContainsKey("containerImage"), "the only required parameter must be in the file");
    }

    // ---- storage ----

    [Fact]
    public void JobStorageAccount_IsHardenedAndKeyless()
    {
        // Compiled template: the account in the storage module.
        var account = Resources(Module("storage")).Single(r => Type(r) == "Microsoft.Storage/storageAccounts");
        var props = account["properties"]!;
        Assert.Equal("StorageV2", Str(account["kind"]));
        Assert.Equal("TLS1_2", Str(props["minimumTlsVersion"]));
        Assert.False(props["allowBlobPublicAccess"]!.GetValue<bool>());
        Assert.False(props["allowSharedKeyAccess"]!.GetValue<bool>());
        Assert.True(props["supportsHttpsTrafficOnly"]!.GetValue<bool>());

        // Evaluated: keyless in both model modes, since the model share lives in its own account.
        foreach (var resources in new[] { Default, CpuOnlyImageModel })
        {
            var job = JobStorageAccount(resources);
            Assert.False(job["properties"]!["allowSharedKeyAccess"]!.GetValue<bool>());
        }
    }

    [Fact]
    public void QueuesAndContainers_Exist()
    {
        var compiled = Module("storage")["variables"]!;
        Assert.Equal(["lcm-jobs", "lcm-jobs-poison", "lcm-jobs-webhooks", "lcm-results"], Strings(compiled["queueNames"]!));
        Assert.Equal(["lcm-images", "lcm-status", "lcm-inputs", "lcm-requests", "lcm-frames"], Strings(compiled["containerNames"]!));

        var account = Str(JobStorageAccount(Default)["name"]);
        var queues = OfType(Default, "Microsoft.Storage/storageAccounts/queueServices/queues").Select(r => Str(r["name"]));
        Assert.Equal(
            new[] { "lcm-jobs", "lcm-jobs-poison", "lcm-jobs-webhooks", "lcm-results" }.Select(q => $"{account}/default/{q}").Order(),
            queues.Order());

        var containers = OfType(Default, "Microsoft.Storage/storageAccounts/blobServices/containers").ToList();
        Assert.Equal(
            new[] { "lcm-images", "lcm-status", "lcm-inputs", "lcm-requests", "lcm-frames" }.Select(c => $"{account}/default/{c}").Order(),
            containers.Select(r => Str(r["name"])).Order());
        Assert.All(containers, c => Assert.Equal("None", Str(c["properties"]!["publicAccess"])));
    }

    [Fact]
    public void LifecyclePolicy_DeletesGeneratedBlobsAfterRetentionDays()
    {
        var retention = _bicep.Template["parameters"]!["retentionDays"]!;
        Assert.Equal("int", Str(retention["type"]));
        Assert.Equal(7, retention["defaultValue"]!.GetValue<int>());

        // The compiled rule takes its age from the parameter, not a literal.
        var compiledPolicy = Resources(Module("storage")).Single(r => Type(r) == "Microsoft.Storage/storageAccounts/managementPolicies");
        Assert.Contains("parameters('retentionDays')", compiledPolicy.ToJsonString(Unescaped));

        foreach (var (resources, days) in new[] { (Default, 7), (A100WithIngress, 3) })
        {
            var policy = OfType(resources, "Microsoft.Storage/storageAccounts/managementPolicies").Single();
            var rules = policy["properties"]!["policy"]!["rules"]!.AsArray();
            var rule = rules.Single(r => Str(r!["name"]) == "expire-generated-blobs")!;
            Assert.True(rule["enabled"]!.GetValue<bool>());
            Assert.Equal("Lifecycle", Str(rule["type"]));
            var definition = rule["definition"]!;
            Assert.Equal(["lcm-images/", "lcm-status/", "lcm-inputs/"], Strings(definition["filters"]!["prefixMatch"]!));
            Assert.Contains("blockBlob", Strings(definition["filters"]!["blobTypes"]!));
            Assert.Equal(days, definition["actions"]!["baseBlob"]!["delete"]!["daysAfterModificationGreaterThan"]!.GetValue<int>());
            // Video frames are needed only while their job runs: a day, whatever the retention.
            var frames = rules.Single(r => Str(r!["name"]) == "expire-video-frames")!["definition"]!;
            Assert.Equal(["lcm-frames/"], Strings(frames["filters"]!["prefixMatch"]!));
            Assert.Equal(1, frames["actions"]!["baseBlob"]!["delete"]!["daysAfterModificationGreaterThan"]!.GetValue<int>());
        }
    }

    // ---- compute: environment, GPU profile, scaling ----

    [Fact]
    public void GpuProfile_DefaultsToT4_WithA100Option()
    {
        var gpu = _bicep.Template["parameters"]!["gpuProfile"]!;
        Assert.Equal(T4, Str(gpu["defaultValue"]));
        Assert.Equal([T4, A100], Strings(gpu["allowedValues"]!));
        Assert.False(_bicep.Template["parameters"]!["cpuOnly"]!["defaultValue"]!.GetValue<bool>());

        AssertProfiles(Default, expectedGpu: T4, cpu: 8, memory: "56Gi");
        AssertProfiles(A100WithIngress, expectedGpu: A100, cpu: 24, memory: "220Gi");
    }

    [Fact]
    public void CpuOnly_RunsOnConsumptionWithoutGpuAndForcesCpuProvider()
    {
        var env = Single(CpuOnlyImageModel, "Microsoft.App/managedEnvironments");
        var profiles = env["properties"]!["workloadProfiles"]!.AsArray();
        Assert.Equal(["Consumption"], profiles.Select(p => Str(p!["workloadProfileType"])));

        var app = Single(CpuOnlyImageModel, "Microsoft.App/containerApps");
        Assert.Equal("Consumption", Str(app["properties"]!["workloadProfileName"]));
        var resources = Container(app)["resources"]!;
        Assert.Equal(4, resources["cpu"]!.GetValue<double>());
        Assert.Equal("8Gi", Str(resources["memory"]));
        Assert.Equal("cpu", Str(Env(app)["LCM_EXECUTION_PROVIDER"]["value"]));
        Assert.Equal("7", Str(Env(app)["LCM_RETENTION_DAYS"]["value"]));

        Assert.Equal("auto", Str(Env(Single(Default, "Microsoft.App/containerApps"))["LCM_EXECUTION_PROVIDER"]["value"]));
        Assert.Equal("cuda", Str(Env(Single(A100WithIngress, "Microsoft.App/containerApps"))["LCM_EXECUTION_PROVIDER"]["value"]));
    }

    [Fact]
    public void ScaleRule_FollowsJobsQueueWithIdentity_FromZeroToMax()
    {
        var parameters = _bicep.Template["parameters"]!;
        Assert.Equal(0, parameters["minReplicas"]!["defaultValue"]!.GetValue<int>());
        var defaultMax = parameters["maxReplicas"]!["defaultValue"]!.GetValue<int>();
        var defaultPerReplica = parameters["queueLengthPerReplica"]!["defaultValue"]!.GetValue<int>();

        foreach (var (resources, max, perReplica) in new[] { (Default, defaultMax, defaultPerReplica), (A100WithIngress, 7, 3) })
        {
            var app = Single(resources, "Microsoft.App/containerApps");
            var scale = app["properties"]!["template"]!["scale"]!;
            Assert.Equal(0, scale["minReplicas"]!.GetValue<int>());
            Assert.Equal(max, scale["maxReplicas"]!.GetValue<int>());

            var queueRules = scale["rules"]!.AsArray().Where(r => r!["azureQueue"] is not null).ToList();
            var queue = Assert.Single(queueRules)!["azureQueue"]!;
            Assert.Equal("lcm-jobs", Str(queue["queueName"]));
            Assert.Equal(perReplica, queue["queueLength"]!.GetValue<int>());
            Assert.Equal(Str(JobStorageAccount(resources)["name"]), Str(queue["accountName"]));
            // Authenticated by the app's user-assigned identity: no secret in the rule.
            Assert.Equal(IdentityId(resources), Str(queue["identity"]));
            Assert.Null(queue["auth"]);
        }
    }

    [Fact]
    public void HttpIngress_IsOffByDefault_AndCanWakeTheAppWhenOn()
    {
        var app = Single(Default, "Microsoft.App/containerApps");
        Assert.Null(app["properties"]!["configuration"]!["ingress"]);
        Assert.Single(app["properties"]!["template"]!["scale"]!["rules"]!.AsArray());

        var exposed = Single(A100WithIngress, "Microsoft.App/containerApps");
        var ingress = exposed["properties"]!["configuration"]!["ingress"]!;
        // The port the image's host listens on (DockerfileTests): a user other than root cannot bind 80.
        Assert.Equal(8080, ingress["targetPort"]!.GetValue<int>());
        Assert.False(ingress["allowInsecure"]!.GetValue<bool>());
        Assert.Contains(exposed["properties"]!["template"]!["scale"]!["rules"]!.AsArray(), r => r!["http"] is not null);
    }

    [Fact]
    public void Realtime_is_a_second_app_on_the_same_image_and_identity_with_websocket_ingress_scaling_on_sessions_from_zero()
    {
        Assert.Single(OfType(Default, "Microsoft.App/containerApps"));
        var apps = OfType(WithRealtime, "Microsoft.App/containerApps").ToList();
        Assert.Equal(2, apps.Count);
        var functions = apps.Single(a => Str(a["name"]).Contains("-func-", StringComparison.Ordinal));
        var realtime = apps.Single(a => Str(a["name"]).Contains("-rt-", StringComparison.Ordinal));

        Assert.Equal(Str(Container(functions)["image"]), Str(Container(realtime)["image"]));
        Assert.Equal(["/home/site/realtime/Lcm.Realtime.Host"], Strings(Container(realtime)["command"]!));
        Assert.Equal(functions["identity"]!["userAssignedIdentities"]!.AsObject().Select(kv => kv.Key),
            realtime["identity"]!["userAssignedIdentities"]!.AsObject().Select(kv => kv.Key));

        var ingress = realtime["properties"]!["configuration"]!["ingress"]!;
        Assert.True(ingress["external"]!.GetValue<bool>());
        Assert.Equal(8080, ingress["targetPort"]!.GetValue<int>());
        Assert.Equal("auto", Str(ingress["transport"]));
        Assert.False(ingress["allowInsecure"]!.GetValue<bool>());

        var scale = realtime["properties"]!["template"]!["scale"]!;
        Assert.Equal(0, scale["minReplicas"]!.GetValue<int>());
        Assert.Equal(3, scale["maxReplicas"]!.GetValue<int>());
        var rule = Assert.Single(scale["rules"]!.AsArray())!;
        Assert.Equal("6", Str(rule["http"]!["metadata"]!["concurrentRequests"]));

        var env = Env(realtime);
        Assert.Equal("6", Str(env["LCM_REALTIME_MAX_SESSIONS"]["value"]));
        Assert.Equal(Str(Env(functions)["LCM_MODEL_PATH"]["value"]), Str(env["LCM_MODEL_PATH"]["value"]));
        // The token is a secret of the app, never a plain setting.
        Assert.Equal("realtime-auth", Str(env["LCM_REALTIME_AUTH"]["secretRef"]));
        Assert.DoesNotContain("rt-token-for-the-test", Container(realtime).ToJsonString());
    }

    [Fact]
    public void Replicas_drain_running_jobs_within_the_termination_grace()
    {
        var app = Single(Default, "Microsoft.App/containerApps");
        Assert.Equal("true", Str(Env(app)["FUNCTIONS_ENABLE_DRAIN_ON_APP_STOPPING"]["value"]));
        // Above lcm worker's default LCM_SHUTDOWN_GRACE_SECONDS (110), leaving time to hand back what did not finish.
        Assert.Equal(120, app["properties"]!["template"]!["terminationGracePeriodSeconds"]!.GetValue<int>());
    }

    // ---- identity and roles ----

    [Fact]
    public void UserAssignedIdentity_IsTheAppsOnlyIdentity()
    {
        var identity = Single(Default, "Microsoft.ManagedIdentity/userAssignedIdentities");
        var app = Single(Default, "Microsoft.App/containerApps");
        Assert.Equal("UserAssigned", Str(app["identity"]!["type"]));
        Assert.Equal([Str(identity["id"])], app["identity"]!["userAssignedIdentities"]!.AsObject().Select(kv => kv.Key));
    }

    [Fact]
    public void Request_blobs_reach_the_jobs_queue_through_event_grid()
    {
        var subscription = Single(Default, "Microsoft.EventGrid/systemTopics/eventSubscriptions");
        var properties = subscription["properties"]!;
        var destination = properties["deliveryWithResourceIdentity"]!["destination"]!;
        Assert.Equal("StorageQueue", Str(destination["endpointType"]));
        Assert.Equal("lcm-jobs", Str(destination["properties"]!["queueName"]));
        Assert.Equal("/blobServices/default/containers/lcm-requests/blobs/", Str(properties["filter"]!["subjectBeginsWith"]));
        Assert.Equal(".json", Str(properties["filter"]!["subjectEndsWith"]));
        Assert.Equal(["Microsoft.Storage.BlobCreated"], properties["filter"]!["includedEventTypes"]!.AsArray().Select(t => Str(t)));
        Assert.Equal(Str(JobStorageAccount(Default)["id"]), Str(Single(Default, "Microsoft.EventGrid/systemTopics")["properties"]!["source"]));
    }

    [Fact]
    public void Completion_events_go_to_a_keyless_cloud_events_topic_the_app_may_send_to()
    {
        foreach (var resources in new[] { Default, CpuOnlyImageModel })
        {
            var topic = Single(resources, "Microsoft.EventGrid/topics");
            Assert.Equal("CloudEventSchemaV1_0", Str(topic["properties"]!["inputSchema"]));
            Assert.True(topic["properties"]!["disableLocalAuth"]!.GetValue<bool>());
            var sender = Assert.Single(OfType(resources, "Microsoft.Authorization/roleAssignments"), a => RoleId(a) == EventGridDataSender);
            Assert.StartsWith(Str(topic["id"]) + "/providers/Microsoft.Authorization/", Str(sender["id"]));
            Assert.Contains(IdentityId(resources), Str(sender["properties"]!["principalId"]));
            // The endpoint is the topic's own, known once it exists.
            var endpoint = Str(Env(Single(resources, "Microsoft.App/containerApps"))["LCM_EVENTGRID_TOPIC_ENDPOINT"]["value"]);
            Assert.Contains("Microsoft.EventGrid/topics", endpoint);
            Assert.Contains(".endpoint", endpoint);
        }
        Assert.True(_bicep.Template["outputs"]!.AsObject().ContainsKey("eventTopicName"));
    }

    [Fact]
    public void Webhook_secret_is_a_key_vault_reference_read_with_the_identity()
    {
        var resources = WithWebhookSecret;
        var vault = Single(resources, "Microsoft.KeyVault/vaults");
        Assert.True(vault["properties"]!["enableRbacAuthorization"]!.GetValue<bool>());
        var app = Single(resources, "Microsoft.App/containerApps");
        // A secure parameter is not evaluated: the settings stay expressions, whose parts are checked.
        var secrets = app["properties"]!["configuration"]!["secrets"]!.ToJsonString(Unescaped);
        Assert.Contains("createObject('name', 'webhook-secret', 'keyVaultUrl', parameters('webhookSecretUri'), 'identity', parameters('identityId'))", secrets);
        Assert.Contains("createObject('name', 'LCM_WEBHOOK_SECRET', 'secretRef', 'webhook-secret')", Container(app)["env"]!.ToJsonString(Unescaped));
        // Versionless, so the app follows new versions of the secret.
        Assert.Contains("secrets/lcm-webhook-secret", _bicep.Template.ToJsonString(Unescaped));
        // The value is in the vault only, never in the app's configuration.
        Assert.DoesNotContain("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", app.ToJsonString(Unescaped));

        // Without a secret: the vault and its reader role, no secret, no setting (webhooks are refused).
        Assert.Empty(OfType(Default, "Microsoft.KeyVault/vaults/secrets"));
        Assert.False(Env(Single(Default, "Microsoft.App/containerApps")).ContainsKey("LCM_WEBHOOK_SECRET"));
        Assert.True(_bicep.Template["outputs"]!.AsObject().ContainsKey("keyVaultName"));
    }

    [Fact]
    public void RoleAssignments_AreLeastPrivilege()
    {
        var account = Str(JobStorageAccount(Default)["id"]);
        var identity = Single(Default, "Microsoft.ManagedIdentity/userAssignedIdentities");
        var all = OfType(Default, "Microsoft.Authorization/roleAssignments").ToList();
        // Event Grid's system topic sends request events to the jobs queue with its own identity and one role.
        var eventGrid = Single(Default, "Microsoft.EventGrid/systemTopics");
        var topicAssignments = all.Where(a => Str(a["properties"]!["principalId"]).Contains(Str(eventGrid["id"]), StringComparison.Ordinal)).ToList();
        Assert.Equal([QueueDataMessageSender], topicAssignments.Select(RoleId));
        var assignments = all.Except(topicAssignments).ToList();

        Assert.All(assignments, a =>
        {
            Assert.Equal("ServicePrincipal", Str(a["properties"]!["principalType"]));
            // The principal is the app identity (its principalId is only known at deploy time).
            Assert.Contains(Str(identity["id"]), Str(a["properties"]!["principalId"]));
        });

        var onStorage = assignments.Where(a => Str(a["id"]).StartsWith(account + "/providers/Microsoft.Authorization/", StringComparison.Ordinal));
        Assert.Equal(new[] { BlobDataContributor, QueueDataContributor }.Order(), onStorage.Select(RoleId).Order());

        var onRegistry = assignments.Where(a => Str(a["id"]).Contains("/Microsoft.ContainerRegistry/registries/myacr/", StringComparison.Ordinal));
        Assert.Equal([AcrPull], onRegistry.Select(RoleId));

        var topic = Str(Single(Default, "Microsoft.EventGrid/topics")["id"]);
        var onTopic = assignments.Where(a => Str(a["id"]).StartsWith(topic + "/providers/Microsoft.Authorization/", StringComparison.Ordinal));
        Assert.Equal([EventGridDataSender], onTopic.Select(RoleId));

        var vault = Str(Single(Default, "Microsoft.KeyVault/vaults")["id"]);
        var onVault = assignments.Where(a => Str(a["id"]).StartsWith(vault + "/providers/Microsoft.Authorization/", StringComparison.Ordinal));
        Assert.Equal([KeyVaultSecretsUser], onVault.Select(RoleId));

        // Nothing else: no management roles, no account-wide owner roles, nothing on the models account.
        Assert.Equal(5, assignments.Count);

        // Without a registry there is no AcrPull and no registry credential on the app.
        var cpuAssignments = OfType(CpuOnlyImageModel, "Microsoft.Authorization/roleAssignments").Select(RoleId);
        Assert.DoesNotContain(AcrPull, cpuAssignments);
        Assert.Empty(Single(CpuOnlyImageModel, "Microsoft.App/containerApps")["properties"]!["configuration"]!["registries"]!.AsArray());
    }

    [Fact]
    public void Registry_IsPulledWithTheIdentity()
    {
        var app = Single(Default, "Microsoft.App/containerApps");
        // snapshot leaves the registry's login server (a runtime value) as an expression.
        var registries = app["properties"]!["configuration"]!["registries"]!.ToJsonString(Unescaped);
        Assert.Contains("Microsoft.ContainerRegistry/registries/myacr", registries);
        Assert.Contains("parameters('identityId')", registries);
        Assert.DoesNotContain("passwordSecretRef", registries);
    }

    // ---- app settings ----

    [Fact]
    public void AppSettings_UseIdentityBasedConnectionsOnly()
    {
        foreach (var resources in new[] { Default, A100WithIngress, CpuOnlyImageModel })
        {
            var app = Single(resources, "Microsoft.App/containerApps");
            var env = Env(app);
            var identity = Str(Single(resources, "Microsoft.ManagedIdentity/userAssignedIdentities")["id"]);

            Assert.Equal("dotnet-isolated", Str(env["FUNCTIONS_WORKER_RUNTIME"]["value"]));
            Assert.Equal(Str(JobStorageAccount(resources)["name"]), Str(env["AzureWebJobsStorage__accountName"]["value"]));
            Assert.Equal("managedidentity", Str(env["AzureWebJobsStorage__credential"]["value"]));
            Assert.Contains(identity, Str(env["AzureWebJobsStorage__clientId"]["value"]));
            Assert.EndsWith(".clientId]", Str(env["AzureWebJobsStorage__clientId"]["value"]));
            Assert.Equal(Str(env["AzureWebJobsStorage__clientId"]["value"]), Str(env["AZURE_CLIENT_ID"]["value"]));
            Assert.Equal("lcm-jobs", Str(env["LCM_JOBS_QUEUE"]["value"]));
            Assert.Equal("lcm-results", Str(env["LCM_RESULTS_QUEUE"]["value"]));
            Assert.False(env.ContainsKey("AzureWebJobsStorage"), "no storage connection string");

            foreach (var setting in env.Values)
            {
                var value = setting["value"]?.ToJsonString(Unescaped) ?? "";
                Assert.DoesNotContain("AccountKey", value, StringComparison.OrdinalIgnoreCase);
                Assert.DoesNotContain("listKeys(", value, StringComparison.OrdinalIgnoreCase);
                Assert.DoesNotContain("SharedAccessSignature", value, StringComparison.OrdinalIgnoreCase);
            }
            // Container Apps secrets are settings too.
            Assert.DoesNotContain("listKeys(", app["properties"]!["configuration"]!["secrets"]!.ToJsonString(Unescaped), StringComparison.OrdinalIgnoreCase);
        }

        // And in the compiled template, before any evaluation.
        var compiledEnv = Module("app")["variables"]!["baseEnv"]!.ToJsonString(Unescaped);
        Assert.DoesNotContain("AccountKey", compiledEnv, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("listKeys(", compiledEnv, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void AccountKeys_AppearOnlyInTheModelShareMount()
    {
        // The single key in the whole deployment: the Azure Files SMB mount definition of the
        // environment, which Container Apps cannot do with an identity in the GA API.
        var hits = new List<(string ResourceType, string Path)>();
        FindListKeys(_bicep.Template, null, "$", hits);
        Assert.NotEmpty(hits);
        Assert.All(hits, h =>
        {
            Assert.Equal("Microsoft.App/managedEnvironments/storages", h.ResourceType);
            Assert.EndsWith(".azureFile.accountKey", h.Path);
        });

        var allText = _bicep.Template.ToJsonString(Unescaped);
        Assert.DoesNotContain("AccountKey=", allText, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("DefaultEndpointsProtocol", allText, StringComparison.OrdinalIgnoreCase);
    }

    // ---- model source ----

    [Fact]
    public void AzureFilesModel_IsMountedReadOnlyFromItsOwnAccount()
    {
        Assert.Equal("azureFiles", Str(_bicep.Template["parameters"]!["modelSource"]!["defaultValue"]));
        var folder = Str(_bicep.Template["parameters"]!["modelFolderName"]!["defaultValue"]);

        var accounts = OfType(Default, "Microsoft.Storage/storageAccounts").ToList();
        Assert.Equal(2, accounts.Count);
        var models = accounts.Single(a => Str(a["name"]) != Str(JobStorageAccount(Default)["name"]));
        Assert.Equal("TLS1_2", Str(models["properties"]!["minimumTlsVersion"]));
        Assert.False(models["properties"]!["allowBlobPublicAccess"]!.GetValue<bool>());

        var share = Single(Default, "Microsoft.Storage/storageAccounts/fileServices/shares");
        Assert.Equal($"{Str(models["name"])}/default/models", Str(share["name"]));

        var mount = Single(Default, "Microsoft.App/managedEnvironments/storages")["properties"]!["azureFile"]!;
        Assert.Equal(Str(models["name"]), Str(mount["accountName"]));
        Assert.Equal("models", Str(mount["shareName"]));
        Assert.Equal("ReadOnly", Str(mount["accessMode"]));

        var app = Single(Default, "Microsoft.App/containerApps");
        var volume = app["properties"]!["template"]!["volumes"]!.AsArray().Single()!;
        Assert.Equal("AzureFile", Str(volume["storageType"]));
        var volumeMount = Container(app)["volumeMounts"]!.AsArray().Single()!;
        Assert.Equal(Str(volume["name"]), Str(volumeMount["volumeName"]));
        Assert.Equal("/models", Str(volumeMount["mountPath"]));
        Assert.Equal($"/models/{folder}", Str(Env(app)["LCM_MODEL_PATH"]["value"]));
    }

    [Fact]
    public void ImageModel_NeedsNoShareAndNoKeys()
    {
        Assert.Single(OfType(CpuOnlyImageModel, "Microsoft.Storage/storageAccounts"));
        Assert.Empty(OfType(CpuOnlyImageModel, "Microsoft.App/managedEnvironments/storages"));
        Assert.Empty(OfType(CpuOnlyImageModel, "Microsoft.Storage/storageAccounts/fileServices/shares"));

        var app = Single(CpuOnlyImageModel, "Microsoft.App/containerApps");
        Assert.Empty(app["properties"]!["template"]!["volumes"]!.AsArray());
        Assert.Equal("/home/site/model", Str(Env(app)["LCM_MODEL_PATH"]["value"]));
    }

    // ---- monitoring ----

    [Fact]
    public void ApplicationInsights_IsWorkspaceBasedAndWiredToAppAndEnvironment()
    {
        var workspace = Single(Default, "Microsoft.OperationalInsights/workspaces");
        var insights = Single(Default, "Microsoft.Insights/components");
        Assert.Equal(Str(workspace["id"]), Str(insights["properties"]!["WorkspaceResourceId"]));

        // App: the connection string arrives as a Container Apps secret.
        var app = Single(Default, "Microsoft.App/containerApps");
        var setting = Env(app)["APPLICATIONINSIGHTS_CONNECTION_STRING"];
        var secretName = Str(setting["secretRef"]);
        var secret = app["properties"]!["configuration"]!["secrets"]!.AsArray().Single(s => Str(s!["name"]) == secretName)!;
        Assert.Contains(Str(insights["id"]), Str(secret["value"]));
        Assert.EndsWith(".ConnectionString]", Str(secret["value"]));

        // Environment: console and system logs go to the same workspace.
        var environment = Single(Default, "Microsoft.App/managedEnvironments");
        Assert.Equal("azure-monitor", Str(environment["properties"]!["appLogsConfiguration"]!["destination"]));
        var diagnostics = Single(Default, "Microsoft.Insights/diagnosticSettings");
        Assert.StartsWith(Str(environment["id"]) + "/providers/Microsoft.Insights/diagnosticSettings/", Str(diagnostics["id"]));
        Assert.Equal(Str(workspace["id"]), Str(diagnostics["properties"]!["workspaceId"]));
        var categories = diagnostics["properties"]!["logs"]!.AsArray().Select(l => Str(l!["category"]));
        Assert.Contains("ContainerAppConsoleLogs", categories);
        Assert.Contains("ContainerAppSystemLogs", categories);
    }

    [Fact]
    public void Outputs_NameTheThingsADeployerNeeds()
    {
        var outputs = _bicep.Template["outputs"]!.AsObject();
        foreach (var name in new[] { "storageAccountName", "appName", "appUrl", "identityClientId" })
        {
            Assert.True(outputs.ContainsKey(name), $"missing output {name}");
        }
    }

    // ---- helpers ----

    private JsonObject Module(string name) =>
        _bicep.Template["resources"]!.AsArray()
            .Single(r => Type(r!) == "Microsoft.Resources/deployments" && Str(r!["name"]) == name)!["properties"]!["template"]!
            .AsObject();

    private static IEnumerable<JsonObject> Resources(JsonObject template)
    {
        var resources = template["resources"];
        // languageVersion 2.0 templates keep resources in an object keyed by symbolic name.
        return resources is JsonObject byName
            ? byName.Select(kv => kv.Value!.AsObject())
            : resources!.AsArray().Select(r => r!.AsObject());
    }

    private static IEnumerable<JsonObject> OfType(JsonArray snapshot, string type) =>
        snapshot.Select(r => r!.AsObject()).Where(r => Type(r) == type);

    private static JsonObject Single(JsonArray snapshot, string type) => Assert.Single(OfType(snapshot, type));

    private static JsonObject JobStorageAccount(JsonArray snapshot) =>
        OfType(snapshot, "Microsoft.Storage/storageAccounts")
            .Single(a => OfType(snapshot, "Microsoft.Storage/storageAccounts/queueServices").Any(q => Str(q["name"]) == $"{Str(a["name"])}/default"));

    private static string IdentityId(JsonArray snapshot) => Str(Single(snapshot, "Microsoft.ManagedIdentity/userAssignedIdentities")["id"]);

    private static JsonObject Container(JsonObject app) =>
        app["properties"]!["template"]!["containers"]!.AsArray().Single()!.AsObject();

    private static Dictionary<string, JsonNode> Env(JsonObject app) =>
        Container(app)["env"]!.AsArray().ToDictionary(e => Str(e!["name"]), e => e!);

    private static string RoleId(JsonObject assignment) =>
        Str(assignment["properties"]!["roleDefinitionId"]).Split('/').Last();

    private static string Type(JsonNode resource) => Str(resource["type"]);

    private static string Str(JsonNode? node) =>
        node is JsonValue v && v.GetValueKind() == JsonValueKind.String ? v.GetValue<string>() : node?.ToJsonString(Unescaped) ?? "";

    private static List<string> Strings(JsonNode array) => array.AsArray().Select(Str).ToList();

    private static void AssertProfiles(JsonArray snapshot, string expectedGpu, double cpu, string memory)
    {
        var env = Single(snapshot, "Microsoft.App/managedEnvironments");
        var profiles = env["properties"]!["workloadProfiles"]!.AsArray();
        Assert.Contains(profiles, p => Str(p!["workloadProfileType"]) == "Consumption");
        var gpu = profiles.Single(p => Str(p!["workloadProfileType"]).StartsWith("Consumption-GPU-", StringComparison.Ordinal))!;
        Assert.Equal(expectedGpu, Str(gpu["workloadProfileType"]));

        var app = Single(snapshot, "Microsoft.App/containerApps");
        Assert.Equal(Str(gpu["name"]), Str(app["properties"]!["workloadProfileName"]));
        var resources = Container(app)["resources"]!;
        Assert.Equal(cpu, resources["cpu"]!.GetValue<double>());
        Assert.Equal(memory, Str(resources["memory"]));
    }

    private static void FindListKeys(JsonNode? node, string? resourceType, string path, List<(string, string)> hits)
    {
        switch (node)
        {
            case JsonObject obj:
                if (obj["type"] is JsonValue t && t.GetValueKind() == JsonValueKind.String && obj.ContainsKey("apiVersion"))
                {
                    resourceType = t.GetValue<string>();
                }
                foreach (var (key, value) in obj)
                {
                    FindListKeys(value, resourceType, $"{path}.{key}", hits);
                }
                break;
            case JsonArray array:
                for (var i = 0; i < array.Count; i++)
                {
                    FindListKeys(array[i], resourceType, $"{path}[{i}]", hits);
                }
                break;
            case JsonValue value when value.GetValueKind() == JsonValueKind.String:
                if (value.GetValue<string>().Contains("listKeys(", StringComparison.OrdinalIgnoreCase))
                {
                    hits.Add((resourceType ?? "(none)", path));
                }
                break;
        }
    }
}
