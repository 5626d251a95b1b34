// A separate, small account that only holds the model files share.
// Container Apps mounts Azure Files over SMB with an account key (the GA API has no identity
// option), and a key needs allowSharedKeyAccess on the account. Keeping the share here means the
// job/image account stays keyless; this key can reach nothing but the model files.

param location string
param name string
param shareName string
param shareQuotaGiB int
param tags object

resource account 'Microsoft.Storage/storageAccounts@2025-06-01' = {
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: 'Standard_LRS'
  }
  properties: {
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    allowBlobPublicAccess: false
    allowSharedKeyAccess: true // required by the SMB mount, see above
    allowCrossTenantReplication: false
  }
}

resource fileService 'Microsoft.Storage/storageAccounts/fileServices@2025-06-01' = {
  parent: account
  name: 'default'
}

resource share 'Microsoft.Storage/storageAccounts/fileServices/shares@2025-06-01' = {
  parent: fileService
  name: shareName
  properties: {
    shareQuota: shareQuotaGiB
    enabledProtocols: 'SMB'
  }
}
