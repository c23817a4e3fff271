// Azure Managed Redis (Microsoft.Cache/redisEnterprise; Azure Cache for Redis, Premium included,
// retires 2028-09-30): TLS 1.2 only, the `EnterpriseCluster` policy so a plain (non-cluster)
// client sees one endpoint, LRU eviction because it is a cache. The access key goes to Key Vault
// as REDIS_URL (rediss://:<key>@<host>:10000); nothing else reads it.
param name string
param location string
param tags object
param skuName string
param highAvailability bool
param keyVaultName string

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
    accessKeysAuthentication: 'Enabled'
  }
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

resource redisUrlSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  // checkov:skip=CKV_AZURE_41: no expiry on purpose: an expired secret breaks the app's Key Vault reference at the next restart; rotation is a runbook step (docs/operations.md)
  parent: vault
  name: 'redis-url'
  properties: {
    value: 'rediss://:${uriComponent(database.listKeys().primaryKey)}@${cluster.properties.hostName}:${port}'
    contentType: 'text/plain'
  }
}

output id string = cluster.id
output hostName string = cluster.properties.hostName
