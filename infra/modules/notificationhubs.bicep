// Notification Hubs: the `nudges` hub the motivator pushes inbox entries through (FCM v1 for
// Android, APNs for iOS). The app sends with a Send-only rule; its connection string goes to Key
// Vault and reaches the app as a Key Vault reference (NOTIFICATION_HUB_CONNECTION). The FCM and
// APNs credentials are the app publisher's: operators set them on the hub (docs/operations.md).
param name string
param location string
param tags object
param hubName string
param keyVaultName string

@allowed([
  'Free'
  'Basic'
  'Standard'
])
param sku string = 'Standard'

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

output id string = namespace.id
output hubName string = hub.name
