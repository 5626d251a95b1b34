// LCM image generator on Azure: a queue-triggered Azure Functions (.NET isolated) container on
// Azure Container Apps with serverless GPU, scaling 0..N on the 'lcm-jobs' queue length.
// Deploy:  az deployment group create -g <rg> -f infra/main.bicep -p infra/main.parameters.json -p containerImage=...
// See infra/README.md for the whole walk-through and the reasons behind the choices below.

targetScope = 'resourceGroup'

@description('Region for every resource. Serverless GPUs exist only in some regions; see infra/README.md.')
param location string = resourceGroup().location

@description('Short lowercase prefix for resource names (letters and digits).')
@minLength(2)
@maxLength(10)
param baseName string = 'lcm'

@description('Function app image, e.g. myregistry.azurecr.io/lcm-functions:v1.')
param containerImage string

@description('Name of an existing Azure Container Registry holding the image; the app identity gets AcrPull on it. Empty for a public image.')
param containerRegistryName string = ''

@description('Resource group of that registry, if not this one.')
param containerRegistryResourceGroup string = resourceGroup().name

@description('Serverless GPU profile for the app. T4 (16 GB) is enough for LCM at 512x512; A100 is faster and costs more.')
@allowed([
  'Consumption-GPU-NC8as-T4'
  'Consumption-GPU-NC24-A100'
])
param gpuProfile string = 'Consumption-GPU-NC8as-T4'

@description('Run on the plain Consumption profile (4 vCPU, 8 GiB, no GPU) with the CPU execution provider.')
param cpuOnly bool = false

@description('ONNX Runtime execution provider when a GPU is present; cpuOnly forces cpu.')
@allowed([
  'auto'
  'cuda'
  'cpu'
])
param executionProvider string = 'auto'

@description('Where the model comes from: an Azure Files share mounted read-only at /models, or baked into the image at /home/site/model.')
@allowed([
  'azureFiles'
  'image'
])
param modelSource string = 'azureFiles'

@description('Folder of the ONNX model inside the models share (azureFiles only).')
param modelFolderName string = 'lcm-dreamshaper-v7'

@description('Size of the models share in GiB (azureFiles only).')
@minValue(1)
param modelShareQuotaGiB int = 32

@description('Replicas kept running when the queue is empty. 0 scales to zero (no compute cost when idle).')
@minValue(0)
param minReplicas int = 0

@description('Upper bound on replicas. Each GPU replica needs serverless GPU quota; many subscriptions start with one T4.')
@minValue(1)
@maxValue(1000)
param maxReplicas int = 1

@description('Queued jobs per replica before another replica is added. A GPU replica takes minutes to start and seconds per image, so one replica should absorb a small burst.')
@minValue(1)
param queueLengthPerReplica int = 5

@description('Jobs one replica takes from the queue at once (Functions queue batch size); with LCM_BATCH_MAX_IMAGES they share UNet batches.')
@minValue(1)
@maxValue(32)
param concurrentJobsPerReplica int = 4

@description('Days before blobs in lcm-images, lcm-status and lcm-inputs are deleted.')
@minValue(1)
param retentionDays int = 7

@description('Redundancy of the job/image storage account.')
@allowed([
  'Standard_LRS'
  'Standard_ZRS'
  'Standard_GRS'
])
param storageSku string = 'Standard_LRS'

@description('Expose the Functions host over HTTPS (only needed for HTTP-triggered functions).')
param enableHttpIngress bool = false

@description('Days Log Analytics keeps logs and telemetry.')
@minValue(30)
@maxValue(730)
param logRetentionDays int = 30

@secure()
@description('The webhook signing secret (LCM_WEBHOOK_SECRET: whsec_ + base64, several space-separated while rotating), kept in Key Vault. Empty: jobs with a webhook are refused (invalid_webhook).')
param webhookSecret string = ''

@description('Deploys the real-time server (/v1/realtime and its page) as a second container app on the same image.')
param enableRealtime bool = false

@description('Real-time sessions per replica; the HTTP scale rule adds a replica at this many.')
@minValue(1)
param realtimeSessionsPerReplica int = 4

@minValue(1)
param realtimeMaxReplicas int = 1

@secure()
@description('The real-time server\'s LCM_REALTIME_AUTH, kept as a secret of its app: token:SECRET (the bearer token clients give) or entra:TENANT_ID:AUDIENCE (Entra ID access tokens); required with enableRealtime.')
param realtimeAuth string = ''

@description('Tags applied to every resource.')
param tags object = {}

var suffix = uniqueString(resourceGroup().id)
var cleanBase = toLower(baseName)
var useModelShare = modelSource == 'azureFiles'
var useRegistry = !empty(containerRegistryName)

// Per-replica sizes. A serverless GPU replica gets a whole GPU and must ask for the full node
// share; Consumption allows at most 4 vCPU / 8 GiB.
var replicaSizes = {
  'Consumption-GPU-NC8as-T4': {
    cpu: 8
    memory: '56Gi'
  }
  'Consumption-GPU-NC24-A100': {
    cpu: 24
    memory: '220Gi'
  }
  Consumption: {
    cpu: 4
    memory: '8Gi'
  }
}
var replicaSize = replicaSizes[cpuOnly ? 'Consumption' : gpuProfile]

// Names are computed here, not read back from module outputs, so what-if can predict every
// resource and role assignment instead of short-circuiting on runtime values.
var names = {
  workspace: 'log-${cleanBase}-${suffix}'
  appInsights: 'appi-${cleanBase}-${suffix}'
  storage: take('${cleanBase}${suffix}', 24)
  modelStorage: take('${cleanBase}mdl${suffix}', 24)
  identity: 'id-${cleanBase}-${suffix}'
  environment: 'cae-${cleanBase}-${suffix}'
  app: '${cleanBase}-func-${suffix}'
  realtimeApp: '${cleanBase}-rt-${suffix}'
  eventTopic: 'evgt-${cleanBase}-${suffix}'
  keyVault: take('kv-${cleanBase}-${suffix}', 24)
  modelShare: 'models'
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  params: {
    location: location
    workspaceName: names.workspace
    appInsightsName: names.appInsights
    retentionInDays: logRetentionDays
    tags: tags
  }
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  params: {
    location: location
    name: names.storage
    skuName: storageSku
    retentionDays: retentionDays
    tags: tags
  }
}

module requestEvents 'modules/requestEvents.bicep' = {
  name: 'request-events'
  params: {
    location: location
    storageAccountName: names.storage
    jobsQueue: 'lcm-jobs'
    tags: tags
  }
  dependsOn: [
    storage
  ]
}

module modelStorage 'modules/modelStorage.bicep' = if (useModelShare) {
  name: 'model-storage'
  params: {
    location: location
    name: names.modelStorage
    shareName: names.modelShare
    shareQuotaGiB: modelShareQuotaGiB
    tags: tags
  }
}

module identity 'modules/identity.bicep' = {
  name: 'identity'
  params: {
    location: location
    name: names.identity
    tags: tags
  }
}

module storageRoles 'modules/storageRoles.bicep' = {
  name: 'storage-roles'
  params: {
    storageAccountName: names.storage
    identityName: names.identity
    principalId: identity.outputs.principalId
  }
  dependsOn: [
    storage
  ]
}

module jobEvents 'modules/jobEvents.bicep' = {
  name: 'job-events'
  params: {
    location: location
    name: names.eventTopic
    identityName: names.identity
    principalId: identity.outputs.principalId
    tags: tags
  }
}

module keyVault 'modules/keyVault.bicep' = {
  name: 'key-vault'
  params: {
    location: location
    name: names.keyVault
    identityName: names.identity
    principalId: identity.outputs.principalId
    webhookSecret: webhookSecret
    hasWebhookSecret: !empty(webhookSecret)
    tags: tags
  }
}

module acrPull 'modules/acrPull.bicep' = if (useRegistry) {
  name: 'acr-pull'
  scope: resourceGroup(containerRegistryResourceGroup)
  params: {
    registryName: containerRegistryName
    identityResourceId: resourceId('Microsoft.ManagedIdentity/userAssignedIdentities', names.identity)
    principalId: identity.outputs.principalId
  }
}

module environment 'modules/environment.bicep' = {
  name: 'environment'
  params: {
    location: location
    name: names.environment
    cpuOnly: cpuOnly
    gpuProfileType: gpuProfile
    workspaceId: monitoring.outputs.workspaceId
    modelStorageAccountName: useModelShare ? names.modelStorage : ''
    modelShareName: names.modelShare
    tags: tags
  }
  // The mount definition reads the share's account key.
  dependsOn: [
    modelStorage
  ]
}

module app 'modules/app.bicep' = {
  name: 'app'
  params: {
    location: location
    name: names.app
    environmentId: environment.outputs.id
    workloadProfileName: environment.outputs.workloadProfileName
    cpu: replicaSize.cpu
    memory: replicaSize.memory
    image: containerImage
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    storageAccountName: storage.outputs.name
    appInsightsName: names.appInsights
    eventGridTopicEndpoint: jobEvents.outputs.endpoint
    webhookSecretUri: keyVault.outputs.webhookSecretUri
    hasWebhookSecret: !empty(webhookSecret)
    registryServer: useRegistry ? acrPull!.outputs.loginServer : ''
    modelStorageName: environment.outputs.modelStorageName
    modelPath: useModelShare ? '/models/${modelFolderName}' : '/home/site/model'
    loraPath: useModelShare ? '/models/loras' : '/home/site/loras'
    retentionDays: retentionDays
    executionProvider: cpuOnly ? 'cpu' : executionProvider
    minReplicas: minReplicas
    maxReplicas: maxReplicas
    queueLengthPerReplica: queueLengthPerReplica
    concurrentJobsPerReplica: concurrentJobsPerReplica
    enableHttpIngress: enableHttpIngress
    tags: tags
  }
  // The first revision must be able to read the queue and pull the image (AcrPull is implied
  // by registryServer). Application Insights comes in through the environment's dependency.
  dependsOn: [
    storageRoles
  ]
}

module realtimeApp 'modules/realtimeApp.bicep' = if (enableRealtime) {
  name: 'realtimeApp'
  params: {
    location: location
    name: names.realtimeApp
    environmentId: environment.outputs.id
    workloadProfileName: environment.outputs.workloadProfileName
    cpu: replicaSize.cpu
    memory: replicaSize.memory
    image: containerImage
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    registryServer: useRegistry ? acrPull!.outputs.loginServer : ''
    modelStorageName: environment.outputs.modelStorageName
    modelPath: useModelShare ? '/models/${modelFolderName}' : '/home/site/model'
    executionProvider: cpuOnly ? 'cpu' : executionProvider
    sessionsPerReplica: realtimeSessionsPerReplica
    maxReplicas: realtimeMaxReplicas
    auth: realtimeAuth
    tags: tags
  }
}

output eventTopicName string = jobEvents.outputs.name
output keyVaultName string = keyVault.outputs.name
output storageAccountName string = storage.outputs.name
output modelStorageAccountName string = useModelShare ? names.modelStorage : ''
output modelShareName string = useModelShare ? names.modelShare : ''
output appName string = app.outputs.name
output appUrl string = app.outputs.url
output identityClientId string = identity.outputs.clientId
output environmentName string = environment.outputs.name
output workloadProfileName string = environment.outputs.workloadProfileName
output realtimeUrl string = enableRealtime ? realtimeApp!.outputs.url : ''
