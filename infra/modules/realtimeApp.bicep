// The real-time server (/v1/realtime and its page): a second container app on the same image, run with
// the real-time host as its command, the same identity and the same model. WebSockets ride on HTTP
// ingress; each open session is one concurrent request for as long as it lasts, so the HTTP rule
// scales on sessions, from zero.

param location string
param name string
param environmentId string
param workloadProfileName string
param cpu int
param memory string
param image string
param identityId string
param identityClientId string
param registryServer string // '' for a public image
param modelStorageName string // '' when the model is baked into the image
param modelPath string
param executionProvider string
@description('Sessions one replica serves (LCM_REALTIME_MAX_SESSIONS); the scale rule adds a replica at this many.')
param sessionsPerReplica int
param maxReplicas int
@secure()
@description('LCM_REALTIME_AUTH: token:SECRET or entra:TENANT_ID:AUDIENCE. The endpoint is public, so none (or nothing) is refused at deployment.')
@minLength(7)
param auth string
param tags object

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
      ingress: {
        external: true
        targetPort: 8080
        // HTTP/1.1 upgrade: WebSockets pass through 'auto' ingress.
        transport: 'auto'
        allowInsecure: false
      }
      registries: empty(registryServer)
        ? []
        : [
            {
              server: registryServer
              identity: identityId
            }
          ]
      secrets: [
        {
          name: 'realtime-auth'
          value: auth
        }
      ]
    }
    template: {
      containers: [
        {
          name: 'realtime'
          image: image
          command: ['/home/site/realtime/Lcm.Realtime.Host']
          resources: {
            cpu: cpu
            memory: memory
          }
          env: [
            { name: 'PORT', value: '8080' }
            { name: 'AZURE_CLIENT_ID', value: identityClientId }
            { name: 'LCM_MODEL_PATH', value: modelPath }
            { name: 'LCM_EXECUTION_PROVIDER', value: executionProvider }
            { name: 'LCM_REALTIME_AUTH', secretRef: 'realtime-auth' }
            { name: 'LCM_REALTIME_MAX_SESSIONS', value: string(sessionsPerReplica) }
          ]
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
      // Sessions are told (server_shutdown, close 1001) at SIGTERM and reconnect elsewhere.
      terminationGracePeriodSeconds: 30
      scale: {
        minReplicas: 0
        maxReplicas: maxReplicas
        rules: [
          {
            name: 'sessions'
            http: {
              metadata: {
                concurrentRequests: string(sessionsPerReplica)
              }
            }
          }
        ]
      }
    }
  }
}

output name string = app.name
output url string = 'https://${app.properties.configuration.ingress.fqdn}'
