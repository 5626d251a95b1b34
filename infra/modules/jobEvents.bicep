// Completion events for subscribers: the worker publishes each job's terminal event (succeeded,
// failed, canceled, expired) to this topic as a CloudEvent, signed in with the app's identity
// (EventGrid Data Sender on this topic only). Local auth is off: the topic has no usable key.

param location string
param name string
param identityName string // stable assignment name, known before the identity's principalId
param principalId string
param tags object

var eventGridDataSender = 'd5a91429-5739-47e2-a06b-3470a27159e7'

resource topic 'Microsoft.EventGrid/topics@2025-02-15' = {
  name: name
  location: location
  tags: tags
  properties: {
    inputSchema: 'CloudEventSchemaV1_0'
    disableLocalAuth: true
    publicNetworkAccess: 'Enabled'
  }
}

resource sender 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(topic.id, resourceId('Microsoft.ManagedIdentity/userAssignedIdentities', identityName), eventGridDataSender)
  scope: topic
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', eventGridDataSender)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

output name string = topic.name
output endpoint string = topic.properties.endpoint
