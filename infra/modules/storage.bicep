// The job/result storage account: queues for work, containers for images and state.
// Shared-key access is off: every client (Functions host, KEDA scaler, app code, the az CLI)
// authenticates with Entra ID, so there is no account key to leak or rotate.

param location string
param name string
param skuName string
param retentionDays int
param tags object

var queueNames = [
  'lcm-jobs'
  'lcm-jobs-poison' // the Functions queue trigger moves a message here after maxDequeueCount failures
  'lcm-jobs-webhooks' // webhook deliveries waiting for their (next) attempt
  'lcm-results'
]

var containerNames = [
  'lcm-images'
  'lcm-status'
  'lcm-inputs'
  'lcm-requests'
  'lcm-frames' // video jobs' frames between the split and the assembly
]

// Only generated output expires; lcm-requests is kept.
var expiringContainers = [
  'lcm-images'
  'lcm-status'
  'lcm-inputs'
]

resource account 'Microsoft.Storage/storageAccounts@2025-06-01' = {
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: skuName
  }
  properties: {
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    allowBlobPublicAccess: false
    allowSharedKeyAccess: false
    // Portal and tools default to Entra ID instead of trying (and failing) with keys.
    defaultToOAuthAuthentication: true
    allowCrossTenantReplication: false
    accessTier: 'Hot'
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2025-06-01' = {
  parent: account
  name: 'default'
}

resource containers 'Microsoft.Storage/storageAccounts/blobServices/containers@2025-06-01' = [
  for c in containerNames: {
    parent: blobService
    name: c
    properties: {
      publicAccess: 'None'
    }
  }
]

resource queueService 'Microsoft.Storage/storageAccounts/queueServices@2025-06-01' = {
  parent: account
  name: 'default'
}

resource queues 'Microsoft.Storage/storageAccounts/queueServices/queues@2025-06-01' = [
  for q in queueNames: {
    parent: queueService
    name: q
  }
]

// Lifecycle management runs about once a day, so blobs live retentionDays plus up to a day or so.
resource lifecycle 'Microsoft.Storage/storageAccounts/managementPolicies@2025-06-01' = {
  parent: account
  name: 'default'
  properties: {
    policy: {
      rules: [
        {
          name: 'expire-generated-blobs'
          enabled: true
          type: 'Lifecycle'
          definition: {
            filters: {
              blobTypes: [
                'blockBlob'
                'appendBlob'
              ]
              prefixMatch: [for c in expiringContainers: '${c}/']
            }
            actions: {
              baseBlob: {
                delete: {
                  daysAfterModificationGreaterThan: retentionDays
                }
              }
            }
          }
        }
        {
          // A video job's frames are needed only while it runs (minutes): its output is in lcm-images.
          name: 'expire-video-frames'
          enabled: true
          type: 'Lifecycle'
          definition: {
            filters: {
              blobTypes: [
                'blockBlob'
              ]
              prefixMatch: [
                'lcm-frames/'
              ]
            }
            actions: {
              baseBlob: {
                delete: {
                  daysAfterModificationGreaterThan: 1
                }
              }
            }
          }
        }
      ]
    }
  }
  // The policy names containers by prefix; create them first so the intent is visible in order.
  dependsOn: [
    containers
  ]
}

output name string = account.name
output id string = account.id
