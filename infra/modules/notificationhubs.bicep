// Notification Hubs: the `nudges` hub the motivator pushes inbox entries through (FCM v1 for
// Android, APNs for iOS). The app sends with a Send-only rule; its connection string goes to Key
// Vault and reaches the app as a Key Vault reference (NOTIFICATION_HUB_CONNECTION). The FCM and
// APNs credentials are the app publisher's: operators set them on the hub (docs/operations.md).
param name string
param location string
param tags object
param hubName string
param keyVaultName string
param logAnalyticsWorkspaceId string

@description('Object id of the app\'s managed identity: it may read the connection-string secret.')
param appPrincipalId string

@description('Free (500 devices, no SLA) for development, Standard (10 million devices, push telemetry) for production: main.bicep picks by environment type.')
@allowed([
  'Free'
  'Basic'
  'Standard'
])
param sku string

resource namespace 'Microsoft.NotificationHubs/namespaces@2023-09-01' = {
  name: name
  location: location
  tags: tags
  sku: {
    name: sku
  }
  properties: {
    namespaceType: 'NotificationHub'
  }
}

resource hub 'Microsoft.NotificationHubs/namespaces/notificationHubs@2023-09-01' = {
  parent: namespace
  name: hubName
  location: location
  tags: tags
  properties: {}
}

// Send only: the app never manages registrations or reads the hub.
resource sendRule 'Microsoft.NotificationHubs/namespaces/notificationHubs/authorizationRules@2023-09-01' = {
  parent: hub
  name: 'app-send'
  properties: {
    rights: [
      'Send'
    ]
  }
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

resource connectionSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  // checkov:skip=CKV_AZURE_41: no expiry on purpose: an expired secret breaks the app's Key Vault reference at the next restart; rotating the rule's key and re-provisioning replaces it
  parent: vault
  name: 'notification-hub-connection'
  properties: {
    value: sendRule.listKeys().primaryConnectionString
    contentType: 'text/plain'
  }
}

// The app reads this secret only (keyvault.bicep explains the per-secret assignments).
resource connectionReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, 'notification-hub-connection', appPrincipalId, '4633458b-17de-408a-b874-0445c86b69e6')
  scope: connectionSecret
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '4633458b-17de-408a-b874-0445c86b69e6') // Key Vault Secrets User
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Operational logs (management operations on the namespace and the hub) and the hub's push
// metrics (learn.microsoft.com/azure/notification-hubs/notification-hubs-diagnostic-logs; log
// category OperationalLogs on both resource types).
resource namespaceDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: namespace
  properties: {
    workspaceId: logAnalyticsWorkspaceId
    logs: [
      {
        category: 'OperationalLogs'
        enabled: true
      }
    ]
  }
}

resource hubDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: hub
  properties: {
    workspaceId: logAnalyticsWorkspaceId
    logs: [
      {
        category: 'OperationalLogs'
        enabled: true
      }
    ]
    metrics: [
      {
        category: 'AllMetrics'
        enabled: true
      }
    ]
  }
}

output id string = namespace.id
output hubName string = hub.name
