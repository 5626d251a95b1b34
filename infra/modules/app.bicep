// The function app: the Functions host image run as a plain container app.
//
// Why Microsoft.App/containerApps with our own KEDA rule, and not Microsoft.Web/sites on the
// environment (or containerApps with kind 'functionapp'): in those models the platform derives the
// scale rules from the function triggers and blocks user rules (an opt-out only arrived in newer
// API versions). A GPU replica is costly and slow to start, so we want the rule in plain sight:
// queue 'lcm-jobs', N messages per replica, min 0, max as given, read with the managed identity.
// The Functions host itself does not care where it runs; it only needs its storage settings.

param location string
param name string
param environmentId string
param workloadProfileName string
param cpu int
param memory string
param image string
param identityId string
param identityClientId string
param storageAccountName string
param appInsightsName string
@description('The Event Grid topic endpoint that receives completion events (LCM_EVENTGRID_TOPIC_ENDPOINT).')
param eventGridTopicEndpoint string
@description('The Key Vault secret holding LCM_WEBHOOK_SECRET (versionless URI), used when hasWebhookSecret.')
param webhookSecretUri string
// Known before deployment, unlike the URI, so the app's settings keep a shape what-if can show.
param hasWebhookSecret bool
param registryServer string // '' for a public image
param modelStorageName string // '' when the model is baked into the image
param modelPath string

@description('Folder of the LoRA files jobs may name (LCM_LORA_PATH): beside the model on the share, or in the image.')
param loraPath string
param executionProvider string
@description('Days the storage lifecycle rule keeps statuses and images; statuses say when theirs expire (LCM_RETENTION_DAYS).')
param retentionDays int
param minReplicas int
param maxReplicas int
param queueLengthPerReplica int
param concurrentJobsPerReplica int
param enableHttpIngress bool
param tags object

var jobsQueue = 'lcm-jobs'
var resultsQueue = 'lcm-results'

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: appInsightsName
}

// Identity-based connections only: no connection strings, no account keys.
var baseEnv = [
  { name: 'FUNCTIONS_WORKER_RUNTIME', value: 'dotnet-isolated' }
  { name: 'AzureWebJobsStorage__accountName', value: storageAccountName }
  { name: 'AzureWebJobsStorage__credential', value: 'managedidentity' }
  { name: 'AzureWebJobsStorage__clientId', value: identityClientId }
  // DefaultAzureCredential in the worker picks the same user-assigned identity.
  { name: 'AZURE_CLIENT_ID', value: identityClientId }
  { name: 'APPLICATIONINSIGHTS_CONNECTION_STRING', secretRef: 'appinsights-connection-string' }
  // Outside App Service the host would derive its id from the replica's hostname; a fixed id keeps
  // locks and timers shared by all replicas. Lowercase, at most 32 characters, like the app name.
  { name: 'AzureFunctionsWebHost__hostid', value: name }
  // Jobs taken at once; the engine still runs one generation (or one UNet batch) at a time. Overrides host.json.
  { name: 'AzureFunctionsJobHost__extensions__queues__batchSize', value: string(concurrentJobsPerReplica) }
  { name: 'LCM_MODEL_PATH', value: modelPath }
  { name: 'LCM_LORA_PATH', value: loraPath }
  { name: 'LCM_JOBS_QUEUE', value: jobsQueue }
  { name: 'LCM_RESULTS_QUEUE', value: resultsQueue }
  { name: 'LCM_EXECUTION_PROVIDER', value: executionProvider }
  { name: 'LCM_RETENTION_DAYS', value: string(retentionDays) }
  // Published with the identity (EventGrid Data Sender on the topic); there is no topic key.
  { name: 'LCM_EVENTGRID_TOPIC_ENDPOINT', value: eventGridTopicEndpoint }
  // At SIGTERM (scale-in, new revision) the host stops its listeners and lets running invocations finish
  // instead of canceling them at once; terminationGracePeriodSeconds below bounds how long.
  { name: 'FUNCTIONS_ENABLE_DRAIN_ON_APP_STOPPING', value: 'true' }
]

// A Key Vault reference: the platform reads the secret with the identity and follows new versions.
var webhookSecrets = !hasWebhookSecret ? [] : [
  {
    name: 'webhook-secret'
    keyVaultUrl: webhookSecretUri
    identity: identityId
  }
]
var webhookEnv = !hasWebhookSecret ? [] : [
  { name: 'LCM_WEBHOOK_SECRET', secretRef: 'webhook-secret' }
]

var queueRule = {
  name: 'lcm-jobs-queue'
  azureQueue: {
    accountName: storageAccountName
    queueName: jobsQueue
    queueLength: queueLengthPerReplica
    identity: identityId
  }
}

// With ingress on, an HTTP request must also be able to wake the app from zero.
var httpRule = {
  name: 'http'
  http: {
    metadata: {
      concurrentRequests: '10'
    }
  }
}

var useModelShare = !empty(modelStorageName)

resource app 'Microsoft.App/containerApps@2026-01-01' = {
  name: name
  location: location
  tags: tags
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    environmentId: environmentId
    workloadProfileName: workloadProfileName
    configuration: {
      activeRevisionsMode: 'Single'
      // Queue-triggered work needs no inbound traffic; without ingress nothing is exposed.
      ingress: enableHttpIngress
        ? {
            external: true
            targetPort: 8080 // the image's ASPNETCORE_URLS: not root, so not 80
            transport: 'auto'
            allowInsecure: false
          }
        : null
      registries: empty(registryServer)
        ? []
        : [
            {
              server: registryServer
              identity: identityId
            }
          ]
      secrets: concat([
        {
          name: 'appinsights-connection-string'
          value: appInsights.properties.ConnectionString
        }
      ], webhookSecrets)
    }
    template: {
      containers: [
        {
          name: 'functions'
          image: image
          resources: {
            cpu: cpu
            memory: memory
          }
          env: concat(baseEnv, webhookEnv)
          volumeMounts: useModelShare
            ? [
                {
                  volumeName: 'models'
                  mountPath: '/models'
                }
              ]
            : []
        }
      ]
      volumes: useModelShare
        ? [
            {
              name: 'models'
              storageType: 'AzureFile'
              storageName: modelStorageName
            }
          ]
        : []
      // Time for a generation in flight to finish when a replica is scaled in: the host drains (above);
      // lcm worker's LCM_SHUTDOWN_GRACE_SECONDS defaults to 110 to hand back what is left before the kill.
      terminationGracePeriodSeconds: 120
      scale: {
        minReplicas: minReplicas
        maxReplicas: maxReplicas
        rules: enableHttpIngress ? [queueRule, httpRule] : [queueRule]
      }
    }
  }
}

output name string = app.name
output url string = enableHttpIngress ? 'https://${app.properties.configuration.ingress.fqdn}' : ''
