// PostgreSQL Flexible Server: one database for all domains (one schema each), Entra and password
// authentication, TLS required, backups kept `backupRetentionDays` days and geo-redundant,
// optional zone-redundant HA and read replica, private access in a delegated subnet when given.
//
// Who connects as whom: the app connects as its managed identity with Entra tokens
// (DATABASE_AUTH=entra; a PostgreSQL role of that name is created by `healthsync migrate` and
// gets only the rights of the `healthsync_app` role on the app's schemas). Migrations run as the
// migrator identity, an Entra admin that only the provision's migration uses
// (modules/migration.bicep), so they run inside the network and own the schema. Whoever
// provisions is an Entra admin too (for psql by hand). The password admin is break-glass only:
// its password is in Key Vault and nothing uses it day to day. DATABASE_URL (Key Vault) names the
// identity, no password.
//
// The server's children are created one after another (database → firewall rule → each
// configuration → Entra admins → replica): in parallel the server answers `ServerIsBusy`. The
// Azure Verified Module does the same (avm/res/db-for-postgre-sql/flexible-server/main.bicep:
// firewall rules dependsOn databases, configurations @batchSize(1) dependsOn firewall rules,
// administrators dependsOn configurations).
//
// A `dependsOn` on a conditional resource is dropped by ARM when its condition is false, so a
// child that follows a conditional one also names the last unconditional child before it:
// `requireTls` waits for `database` as well as the firewall rule (absent when private), the
// migrator's administrator for `logDisconnections` as well as the deployer's (absent when no
// principal is given).
param name string
param location string
param tags object
param version string
param skuName string
param skuTier string
param storageSizeGB int
param backupRetentionDays int
param geoRedundantBackup bool
param highAvailability bool
param readReplica bool
param replicaLocation string
param databaseName string
param keyVaultName string
param logAnalyticsWorkspaceId string

param administratorLogin string = 'healthsync_admin'

@secure()
param adminPassword string

@description('Entra admin (object id, display name, type); empty id = none.')
param entraAdminObjectId string
param entraAdminName string
param entraAdminType string

@description('The migrator identity (object id, name): an Entra admin the migration signs in as.')
param migratorObjectId string
param migratorName string

@description('Private access: a subnet delegated to Microsoft.DBforPostgreSQL/flexibleServers; empty = public access with the Azure-services firewall rule.')
param delegatedSubnetId string
param privateDnsZoneId string

@description('The app\'s managed identity: its name is the PostgreSQL role the app logs in as.')
param appIdentityName string

@description('Object id of the app\'s managed identity: it may read `database-url` (not the admin password).')
param appPrincipalId string

var privateAccess = !empty(delegatedSubnetId)
var privateNetwork = {
  delegatedSubnetResourceId: delegatedSubnetId
  privateDnsZoneArmResourceId: privateDnsZoneId
  publicNetworkAccess: 'Disabled'
}
var publicNetwork = {
  publicNetworkAccess: 'Enabled'
}
var network = privateAccess ? privateNetwork : publicNetwork

resource server 'Microsoft.DBforPostgreSQL/flexibleServers@2024-08-01' = {
  name: name
  location: location
  tags: tags
  sku: {
    name: skuName
    tier: skuTier
  }
  properties: {
    version: version
    administratorLogin: administratorLogin
    administratorLoginPassword: adminPassword
    authConfig: {
      activeDirectoryAuth: 'Enabled'
      passwordAuth: 'Enabled'
      tenantId: tenant().tenantId
    }
    storage: {
      storageSizeGB: storageSizeGB
      autoGrow: 'Enabled'
    }
    backup: {
      backupRetentionDays: backupRetentionDays
      geoRedundantBackup: geoRedundantBackup ? 'Enabled' : 'Disabled'
    }
    highAvailability: {
      mode: highAvailability ? 'ZoneRedundant' : 'Disabled'
    }
    network: network
  }
}

resource database 'Microsoft.DBforPostgreSQL/flexibleServers/databases@2024-08-01' = {
  parent: server
  name: databaseName
  properties: {
    charset: 'UTF8'
    collation: 'en_US.utf8'
  }
}

// TLS for every connection (the app connects with sslmode=require) and connection logging.
resource requireTls 'Microsoft.DBforPostgreSQL/flexibleServers/configurations@2024-08-01' = {
  parent: server
  name: 'require_secure_transport'
  properties: {
    value: 'on'
    source: 'user-override'
  }
  dependsOn: [
    database
    allowAzure
  ]
}

resource logConnections 'Microsoft.DBforPostgreSQL/flexibleServers/configurations@2024-08-01' = {
  parent: server
  name: 'log_connections'
  properties: {
    value: 'on'
    source: 'user-override'
  }
  dependsOn: [
    requireTls
  ]
}

resource logDisconnections 'Microsoft.DBforPostgreSQL/flexibleServers/configurations@2024-08-01' = {
  parent: server
  name: 'log_disconnections'
  properties: {
    value: 'on'
    source: 'user-override'
  }
  dependsOn: [
    logConnections
  ]
}

resource administrator 'Microsoft.DBforPostgreSQL/flexibleServers/administrators@2024-08-01' = if (!empty(entraAdminObjectId)) {
  parent: server
  name: empty(entraAdminObjectId) ? 'none' : entraAdminObjectId
  properties: {
    principalType: entraAdminType
    principalName: empty(entraAdminName) ? entraAdminObjectId : entraAdminName
    tenantId: tenant().tenantId
  }
  dependsOn: [
    logDisconnections
  ]
}

resource migratorAdministrator 'Microsoft.DBforPostgreSQL/flexibleServers/administrators@2024-08-01' = {
  parent: server
  name: migratorObjectId
  properties: {
    principalType: 'ServicePrincipal'
    principalName: migratorName
    tenantId: tenant().tenantId
  }
  dependsOn: [
    logDisconnections
    administrator
  ]
}

// Without private access (development environments only: production is always private) the server
// accepts connections from Azure services (the app's outbound addresses on Flex Consumption are
// not fixed). That admits any Azure tenant's address, so Entra tokens and TLS are what protect it.
resource allowAzure 'Microsoft.DBforPostgreSQL/flexibleServers/firewallRules@2024-08-01' = if (!privateAccess) {
  parent: server
  name: 'AllowAllAzureServicesAndResourcesWithinAzureIps'
  properties: {
    startIpAddress: '0.0.0.0'
    endIpAddress: '0.0.0.0'
  }
  dependsOn: [
    database
  ]
}

resource replica 'Microsoft.DBforPostgreSQL/flexibleServers@2024-08-01' = if (readReplica) {
  name: '${name}-replica'
  location: replicaLocation
  tags: tags
  sku: {
    name: skuName
    tier: skuTier
  }
  properties: {
    createMode: 'Replica'
    sourceServerResourceId: server.id
    network: network
  }
  dependsOn: [
    migratorAdministrator
  ]
}

resource diagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: server
  properties: {
    workspaceId: logAnalyticsWorkspaceId
    logs: [
      {
        categoryGroup: 'allLogs'
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

// The replica logs like its primary.
resource replicaDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = if (readReplica) {
  name: 'to-log-analytics'
  scope: replica
  properties: {
    workspaceId: logAnalyticsWorkspaceId
    logs: [
      {
        categoryGroup: 'allLogs'
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

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

resource adminPasswordSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  // checkov:skip=CKV_AZURE_41: no expiry on purpose: an expired secret breaks the app's Key Vault reference at the next restart; rotation is a runbook step (docs/operations.md)
  parent: vault
  name: 'postgres-admin-password'
  properties: {
    value: adminPassword
    contentType: 'text/plain'
  }
}

// DATABASE_URL as the app reads it (src/config/settings.rs): the managed identity's role, no
// password (DATABASE_AUTH=entra supplies a token per connection), TLS with the server's
// certificate verified.
resource databaseUrlSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  // checkov:skip=CKV_AZURE_41: no expiry on purpose: an expired secret breaks the app's Key Vault reference at the next restart; rotation is a runbook step (docs/operations.md)
  parent: vault
  name: 'database-url'
  properties: {
    value: 'postgres://${uriComponent(appIdentityName)}@${server.properties.fullyQualifiedDomainName}:5432/${databaseName}?sslmode=verify-full'
    contentType: 'text/plain'
  }
}

// The app reads `database-url` and nothing else of this module's secrets: the admin password
// stays with operators (keyvault.bicep explains the per-secret assignments).
resource databaseUrlReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, 'database-url', appPrincipalId, '4633458b-17de-408a-b874-0445c86b69e6')
  scope: databaseUrlSecret
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '4633458b-17de-408a-b874-0445c86b69e6') // Key Vault Secrets User
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

output id string = server.id
output name string = server.name
output fqdn string = server.properties.fullyQualifiedDomainName
output replicaName string = readReplica ? replica.name : ''
output entraAdminName string = empty(entraAdminObjectId) ? '' : (empty(entraAdminName) ? entraAdminObjectId : entraAdminName)
output administratorLogin string = administratorLogin
output migratorRole string = migratorName
