// The Container Apps environment. It always has the Consumption profile; unless cpuOnly it also
// has one serverless GPU profile (T4 or A100), which bills per second and only while a replica
// runs on it, so an idle GPU profile costs nothing.

param location string
param name string
param cpuOnly bool
param gpuProfileType string
param workspaceId string
param modelStorageAccountName string // '' when models are baked into the image
param modelShareName string
param tags object

var consumptionProfile = {
  name: 'Consumption'
  workloadProfileType: 'Consumption'
}

var gpuProfile = {
  name: 'gpu'
  workloadProfileType: gpuProfileType
}

resource environment 'Microsoft.App/managedEnvironments@2026-01-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    workloadProfiles: cpuOnly ? [consumptionProfile] : [consumptionProfile, gpuProfile]
    // 'azure-monitor' routes logs through the diagnostic setting below, so the environment never
    // holds the workspace shared key ('log-analytics' would need it).
    appLogsConfiguration: {
      destination: 'azure-monitor'
    }
  }
}

resource logs 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: environment
  properties: {
    workspaceId: workspaceId
    logAnalyticsDestinationType: 'Dedicated'
    logs: [
      {
        category: 'ContainerAppConsoleLogs'
        enabled: true
      }
      {
        category: 'ContainerAppSystemLogs'
        enabled: true
      }
    ]
  }
}

resource modelAccount 'Microsoft.Storage/storageAccounts@2025-06-01' existing = if (!empty(modelStorageAccountName)) {
  name: modelStorageAccountName
}

// The SMB mount definition. The key lives here, in the environment's storage definition, not in
// the app's settings; the share is mounted read-only.
resource modelStorage 'Microsoft.App/managedEnvironments/storages@2026-01-01' = if (!empty(modelStorageAccountName)) {
  parent: environment
  name: 'models'
  properties: {
    azureFile: {
      accountName: modelStorageAccountName
      accountKey: modelAccount!.listKeys().keys[0].value
      shareName: modelShareName
      accessMode: 'ReadOnly'
    }
  }
}

output id string = environment.id
output name string = environment.name
output workloadProfileName string = cpuOnly ? consumptionProfile.name : gpuProfile.name
output modelStorageName string = empty(modelStorageAccountName) ? '' : modelStorage.name
