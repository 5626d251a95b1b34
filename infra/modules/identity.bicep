// One user-assigned identity for the app, the queue scaler and image pulls. User-assigned (not
// system-assigned) so role assignments exist before the app is created and the first revision can
// pull its image and read the queue.

param location string
param name string
param tags object

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2024-11-30' = {
  name: name
  location: location
  tags: tags
}

output id string = identity.id
output name string = identity.name
output clientId string = identity.properties.clientId
output principalId string = identity.properties.principalId
