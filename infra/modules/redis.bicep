// Azure Managed Redis (Microsoft.Cache/redisEnterprise; Azure Cache for Redis, Premium included,
// retires 2028-09-30): TLS 1.2 only, the `EnterpriseCluster` policy so a plain (non-cluster)
// client sees one endpoint, LRU eviction because it is a cache.
//
// No access keys: the app signs in with Microsoft Entra ID as its managed identity (user name =
// the identity's object id, password = a token for https://redis.azure.com/.default, renewed
// before it expires; src/platform/cache/entra.rs), through an access-policy assignment of the
// built-in `default` policy on the database. Source: "Use Microsoft Entra ID for cache
// authentication" (https://learn.microsoft.com/azure/redis/entra-for-authentication) and the
// REST spec of Microsoft.Cache/redisEnterprise/databases/accessPolicyAssignments (2025-07-01).
// REDIS_URL therefore holds no secret; it stays a Key Vault reference so rotating to another
// cache is one secret.
param name string
param location string
param tags object
param skuName string
param highAvailability bool
param keyVaultName string
param logAnalyticsWorkspaceId string

@description('Object id of the app\'s managed identity: its Redis user name.')
param appPrincipalId string

@allowed([
  'Enabled'
  'Disabled'
])
param publicNetworkAccess string

var port = 10000

resource cluster 'Microsoft.Cache/redisEnterprise@2025-07-01' = {
  name: name
  location: location
  tags: tags
  sku: {
    name: skuName
  }
  properties: {
    minimumTlsVersion: '1.2'
    highAvailability: highAvailability ? 'Enabled' : 'Disabled'
    publicNetworkAccess: publicNetworkAccess
  }
}

resource database 'Microsoft.Cache/redisEnterprise/databases@2025-07-01' = {
  parent: cluster
  name: 'default'
  properties: {
    clientProtocol: 'Encrypted'
    port: port
    clusteringPolicy: 'EnterpriseCluster'
    evictionPolicy: 'AllKeysLRU'
    accessKeysAuthentication: 'Disabled'
  }
}

resource appAccess 'Microsoft.Cache/redisEnterprise/databases/accessPolicyAssignments@2025-07-01' = {
  parent: database
  name: 'app${take(replace(appPrincipalId, '-', ''), 20)}'
  properties: {
    accessPolicyName: 'default'
    user: {
      objectId: appPrincipalId
    }
  }
}

resource clusterDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: cluster
  properties: {
    workspaceId: logAnalyticsWorkspaceId
    metrics: [
      {
        category: 'AllMetrics'
        enabled: true
      }
    ]
  }
}

// Connection events (who connected and authenticated) are logged per database.
resource databaseDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: database
  properties: {
    workspaceId: logAnalyticsWorkspaceId
    logs: [
      {
        categoryGroup: 'allLogs'
        enabled: true
      }
    ]
  }
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

resource redisUrlSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  // checkov:skip=CKV_AZURE_41: no expiry on purpose: an expired secret breaks the app's Key Vault reference at the next restart; the value holds no credential
  parent: vault
  name: 'redis-url'
  properties: {
    value: 'rediss://${cluster.properties.hostName}:${port}'
    contentType: 'text/plain'
  }
}

// The app reads this secret only (keyvault.bicep explains the per-secret assignments).
resource redisUrlReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, 'redis-url', appPrincipalId, '4633458b-17de-408a-b874-0445c86b69e6')
  scope: redisUrlSecret
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '4633458b-17de-408a-b874-0445c86b69e6') // Key Vault Secrets User
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

output id string = cluster.id
output hostName string = cluster.properties.hostName
