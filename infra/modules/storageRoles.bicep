// Data-plane roles on the job/image account, and nothing broader.
// - Queue Data Contributor: the queue trigger reads/deletes jobs, moves poison messages, writes
//   results; the KEDA scaler reads the queue length.
// - Blob Data Contributor: images, status and inputs; also the Functions host's own containers
//   (azure-webjobs-hosts/-secrets). It includes generateUserDelegationKey/action, which is what
//   a user-delegation SAS for an image link needs.

param storageAccountName string
param identityName string // stable assignment names, known before the identity's principalId
param principalId string

var roles = {
  storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
  storageBlobDataContributor: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'
}

resource account 'Microsoft.Storage/storageAccounts@2025-06-01' existing = {
  name: storageAccountName
}

var identityResourceId = resourceId('Microsoft.ManagedIdentity/userAssignedIdentities', identityName)

resource assignments 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for role in items(roles): {
    name: guid(account.id, identityResourceId, role.value)
    scope: account
    properties: {
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', role.value)
      principalId: principalId
      // Skips the directory lookup that fails while a new identity is still replicating.
      principalType: 'ServicePrincipal'
    }
  }
]
