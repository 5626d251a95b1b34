// The service's secrets: the webhook signing secret (LCM_WEBHOOK_SECRET), read by the app through a
// Container Apps Key Vault reference with its identity (Key Vault Secrets User on this vault only),
// so the value never sits in the app's configuration. Rotate by adding a new secret version whose
// value lists the new secret and the old one, space-separated; receivers accept either while they move.

param location string
param name string
param identityName string // stable assignment name, known before the identity's principalId
param principalId string
@secure()
@description('The webhook signing secret (whsec_ + base64), written when hasWebhookSecret.')
param webhookSecret string
// Given beside the secret: an output may not depend on a secure value, not even on its emptiness.
param hasWebhookSecret bool
param tags object

var keyVaultSecretsUser = '4633458b-17de-408a-b874-0445c86b69e6'

resource vault 'Microsoft.KeyVault/vaults@2024-11-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: subscription().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 7
    publicNetworkAccess: 'Enabled'
  }
}

resource secret 'Microsoft.KeyVault/vaults/secrets@2024-11-01' = if (hasWebhookSecret) {
  parent: vault
  name: 'lcm-webhook-secret'
  properties: {
    value: webhookSecret
    contentType: 'Standard Webhooks secret(s): whsec_ + base64, space-separated'
  }
}

resource reader 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, resourceId('Microsoft.ManagedIdentity/userAssignedIdentities', identityName), keyVaultSecretsUser)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', keyVaultSecretsUser)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

output name string = vault.name
// Versionless, so the app follows rotations; '' without a secret.
output webhookSecretUri string = !hasWebhookSecret ? '' : '${vault.properties.vaultUri}secrets/lcm-webhook-secret'
