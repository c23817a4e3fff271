// HealthSync Functions: everything the app needs in Azure, in one resource group.
// azd layout: `azd provision` deploys this at subscription scope with main.parameters.json.
// docs/operations.md is the runbook for what this file provisions.
targetScope = 'subscription'

// ---------------------------------------------------------------------------------------------
// Environment
// ---------------------------------------------------------------------------------------------

@minLength(1)
@maxLength(48)
@description('azd environment name (dev, prod, ...): part of every resource name.')
param environmentName string

@allowed([
  ''
  'production'
  'development'
])
@description('What this environment is. production: private networking (VNet, private endpoints, no public data endpoints, Service Bus Premium) and the production sizes below; development: public endpoints (unless useVnet) and small sizes. Empty: the name decides, and only a name that says development makes one (dev*, test*, sandbox*); every other name, `live` or `prod` alike, is production.')
param environmentType string = ''

@minLength(1)
@description('Primary region. It must offer Flex Consumption (or Premium), Azure Managed Redis and PostgreSQL Flexible Server.')
param location string

@description('Object id of the identity running `azd provision` (azd sets AZURE_PRINCIPAL_ID): gets Key Vault Secrets Officer and becomes the PostgreSQL Entra admin. Empty: neither.')
param principalId string = ''

@allowed([
  'User'
  'ServicePrincipal'
  'Group'
])
param principalType string = 'User'

@description('Display name of principalId (the PostgreSQL Entra admin role is named after it).')
param principalName string = ''

// ---------------------------------------------------------------------------------------------
// Hosting
// ---------------------------------------------------------------------------------------------

@allowed([
  'FlexConsumption'
  'Premium'
])
@description('FlexConsumption: scale to zero, custom runtime, no slots. Premium (EP1+): always-warm instances and a `staging` slot for blue-green swaps.')
param hostingPlan string = 'FlexConsumption'

@allowed([
  'EP1'
  'EP2'
  'EP3'
])
param premiumSku string = 'EP1'

@minValue(40)
@maxValue(1000)
param flexMaximumInstanceCount int = 100

@allowed([
  512
  2048
  4096
])
param flexInstanceMemoryMB int = 2048

@description('Private networking for a development environment too: app VNet integration, PostgreSQL in a delegated subnet, private endpoints for Key Vault, storage, Redis, Event Hubs and Service Bus (Premium) with public access off. A production environment always has it.')
param useVnet bool = false

@description('Front Door + WAF in front of the app, the app accepting only Front Door. Off for cheap environments.')
param useFrontDoor bool = true

@allowed([
  ''
  'Standard_AzureFrontDoor'
  'Premium_AzureFrontDoor'
])
@description('Front Door tier; empty: Premium in production, Standard in development.')
param frontDoorSku string = ''


// ---------------------------------------------------------------------------------------------
// Data
// ---------------------------------------------------------------------------------------------

@description('PostgreSQL administrator password. azd generates one the first time and keeps it in the environment; CI passes POSTGRES_ADMIN_PASSWORD. Stored in Key Vault; DATABASE_URL is composed from it.')
@secure()
@metadata({
  azd: {
    type: 'generate'
    config: {
      length: 32
      noSpecial: true
    }
  }
})
param postgresAdminPassword string

param postgresVersion string = '16'

// Sizes: every parameter from here to serviceBusSku left empty (or 0) takes the size of the
// environment's type (`sizes` below); a value set in the azd environment or the pipeline wins.

@description('PostgreSQL compute SKU; empty: as the environment type sizes it.')
param postgresSkuName string = ''

@allowed([
  ''
  'Burstable'
  'GeneralPurpose'
  'MemoryOptimized'
])
param postgresSkuTier string = ''

@minValue(0)
@description('PostgreSQL storage in GiB; 0: as the environment type sizes it. Storage only grows: a smaller value than the server has fails.')
param postgresStorageSizeGB int = 0

@minValue(0)
@maxValue(35)
@description('Backup retention in days (7-35); 0: as the environment type sizes it.')
param postgresBackupRetentionDays int = 0

@allowed([
  ''
  'true'
  'false'
])
@description('Geo-redundant backups; empty: as the environment type sizes it. Fixed when the server is created.')
param postgresGeoRedundantBackup string = ''

@description('Zone-redundant high availability (a standby in another zone). Not available on Burstable.')
param postgresHighAvailability bool = false

@description('A read replica (for reporting and as a promotion target).')
param postgresReadReplica bool = false

@description('Region of the read replica; empty = the primary region. With useVnet the replica must stay in the primary region.')
param postgresReplicaLocation string = ''

@description('Azure Managed Redis SKU (Balanced_B0 is the smallest); empty: as the environment type sizes it.')
param redisSku string = ''

@allowed([
  ''
  'true'
  'false'
])
param redisHighAvailability string = ''

@allowed([
  ''
  'Standard_LRS'
  'Standard_ZRS'
  'Standard_GZRS'
  'Standard_RAGZRS'
])
@description('Redundancy of the checkup-files account; empty: as the environment type sizes it.')
param storageSku string = ''

@allowed([
  ''
  'Free'
  'Basic'
  'Standard'
])
@description('Notification Hubs tier; empty: as the environment type sizes it.')
param notificationHubsSku string = ''

@allowed([
  'Standard'
  'Premium'
])
param serviceBusSku string = 'Standard'

// ---------------------------------------------------------------------------------------------
// App configuration
// ---------------------------------------------------------------------------------------------

@description('Blob URL of the release package the provision migrates the database with, inside the network (scripts/deploy-azure stage uploads it and sets HEALTHSYNC_RELEASE_URL in the preprovision hook); empty: no migration.')
param releaseUrl string = ''

@description('SHA-256 of the `healthsync` binary in that package (HEALTHSYNC_RELEASE_SHA256): the migration refuses any other, and a new value runs it again.')
param releaseSha256 string = ''

@description('Premium: blob URL of the package production runs (scripts/deploy-azure sets it; kept across provisions).')
param packageUrl string = ''

@description('Premium: blob URL of the package the staging slot runs.')
param stagingPackageUrl string = ''

@description('Google OAuth client ids (comma-separated) accepted as ID-token audiences.')
param googleClientIds string = ''

@description('Second OIDC issuer (Entra External ID / B2C); empty = not configured.')
param oidcIssuer string = ''
param oidcJwksUrl string = ''
param oidcAudiences string = ''

@description('Token signing keys `kid:base64url-secret[,kid:secret...]` (the first signs, all verify). Empty: the Key Vault secret is left as it is (set it with `az keyvault secret set`, see docs/operations.md).')
@secure()
param authSigningKeys string = ''

@description('Anthropic API key. Empty: the Key Vault secret is left as it is.')
@secure()
param claudeApiKey string = ''

@description('Google OAuth client secret (code exchange). Empty: the Key Vault secret is left as it is.')
@secure()
param googleClientSecret string = ''

@description('Tilko API key (NHIS checkups through the aggregator). Empty: the Key Vault secret is left as it is.')
@secure()
param tilkoApiKey string = ''

@description('E-mail address for alert notifications; empty = alerts fire without an action group.')
param alertEmail string = ''

// ---------------------------------------------------------------------------------------------
// What the app is made of, generated from the domain list in src/lib.rs by
// `healthsync generate --write` (the test suite fails when it is stale): one Service Bus
// subscription per consumer (`name` is the function.json subscriptionName, `subjects` the event
// types it handles), the timer functions (disabled in the staging slot so they never run twice),
// and the defaults of the app settings (modules/functionapp.bicep).
// ---------------------------------------------------------------------------------------------

var catalog = loadJsonContent('catalog.json')
var serviceBusSubscriptions = catalog.serviceBusSubscriptions
var timerFunctions = catalog.timerFunctions
var serviceBusFunctions = [for s in serviceBusSubscriptions: s.function]

// ---------------------------------------------------------------------------------------------

var abbrs = loadJsonContent('abbreviations.json')
var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = {
  'azd-env-name': environmentName
  app: 'healthsync'
}
var functionAppName = '${abbrs.webSitesFunctions}healthsync-${resourceToken}'
var deploymentContainerName = 'app-package-${take(resourceToken, 8)}'
var checkupContainerName = 'checkup-files'
// Production is private: the VNet and private endpoints, no `0.0.0.0` PostgreSQL rule (it admits
// every Azure tenant's addresses), and Service Bus Premium (the tier with private endpoints).
// Whether an environment is production is the environmentType parameter; only when it is empty
// does the name decide, and then only a name that says development (dev*, test*, sandbox*)
// gives a public environment: a misspelt or new name fails safe. Development environments choose
// private networking with useVnet.
var lowerName = toLower(environmentName)
var namedForDevelopment = startsWith(lowerName, 'dev') || startsWith(lowerName, 'test') || startsWith(lowerName, 'sandbox')
var isProduction = empty(environmentType) ? !namedForDevelopment : environmentType == 'production'
var privateNetworking = isProduction || useVnet

// What each environment type gets when a size parameter is left empty. Why production's:
// - PostgreSQL Standard_D2ds_v5 in the GeneralPurpose tier: the smallest tier that offers zone-redundant HA
//   and read replicas (Burstable offers neither), with steady CPU for the daily nudge fan-out
//   (a Burstable server throttles once its credits are spent).
// - 64 GiB: the size the production data and its growth were planned at; auto-grow is on.
// - Backups 35 days, geo-redundant: the longest retention, restorable in the paired region
//   (docs/operations.md, "Restore" and "Fail over").
// - Redis Balanced_B1 with high availability: a replica in another zone, so losing a node does
//   not empty the caches the rate limits and the near cache work from.
// - Checkup files Standard_GZRS, host account Standard_ZRS: files survive a zone and a region;
//   the Functions host's own state needs to survive a zone only.
// - Front Door Premium: the Microsoft-managed WAF rule sets and bot protection (Standard runs
//   custom rules only; learn.microsoft.com/azure/frontdoor/standard-premium/tier-comparison).
// - Notification Hubs Standard: 10 million active devices and push telemetry (Basic: 200,000
//   devices, too few for the user base; Free: 500 devices, no SLA).
// Development gets the smallest of each: a Burstable B1ms server with 32 GiB and 7 days of local
// backups, Redis Balanced_B0 without HA, locally redundant storage, Front Door Standard and the
// Free hub.
var productionSizes = {
  postgresSku: 'Standard_D2ds_v5'
  postgresTier: 'GeneralPurpose'
  postgresStorageGB: 64
  postgresBackupDays: 35
  postgresGeoBackup: true
  redisSku: 'Balanced_B1'
  redisHa: true
  storageSku: 'Standard_GZRS'
  hostStorageSku: 'Standard_ZRS'
  frontDoorSku: 'Premium_AzureFrontDoor'
  notificationHubsSku: 'Standard'
}
var developmentSizes = {
  postgresSku: 'Standard_B1ms'
  postgresTier: 'Burstable'
  postgresStorageGB: 32
  postgresBackupDays: 7
  postgresGeoBackup: false
  redisSku: 'Balanced_B0'
  redisHa: false
  storageSku: 'Standard_LRS'
  hostStorageSku: 'Standard_LRS'
  frontDoorSku: 'Standard_AzureFrontDoor'
  notificationHubsSku: 'Free'
}
var sizes = isProduction ? productionSizes : developmentSizes
var effectivePostgresSku = empty(postgresSkuName) ? sizes.postgresSku : postgresSkuName
var effectivePostgresTier = empty(postgresSkuTier) ? sizes.postgresTier : postgresSkuTier
var effectivePostgresStorageGB = postgresStorageSizeGB == 0 ? sizes.postgresStorageGB : postgresStorageSizeGB
var effectivePostgresBackupDays = postgresBackupRetentionDays == 0 ? sizes.postgresBackupDays : postgresBackupRetentionDays
var effectivePostgresGeoBackup = empty(postgresGeoRedundantBackup) ? sizes.postgresGeoBackup : bool(postgresGeoRedundantBackup)
var effectiveRedisSku = empty(redisSku) ? sizes.redisSku : redisSku
var effectiveRedisHa = empty(redisHighAvailability) ? sizes.redisHa : bool(redisHighAvailability)
var effectiveStorageSku = empty(storageSku) ? sizes.storageSku : storageSku
var effectiveFrontDoorSku = empty(frontDoorSku) ? sizes.frontDoorSku : frontDoorSku
var effectiveNotificationHubsSku = empty(notificationHubsSku) ? sizes.notificationHubsSku : notificationHubsSku
var effectiveServiceBusSku = privateNetworking ? 'Premium' : serviceBusSku
var databaseName = 'healthsync'

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: '${abbrs.resourcesResourceGroups}healthsync-${environmentName}'
  location: location
  tags: tags
}

module identity 'modules/identity.bicep' = {
  name: 'identity'
  scope: rg
  params: {
    name: '${abbrs.managedIdentityUserAssignedIdentities}healthsync-${resourceToken}'
    location: location
    tags: tags
  }
}

// Signs in to PostgreSQL as an Entra admin to run migrations, from the provision's deployment
// script only (modules/migration.bicep); the app never holds it.
module migrator 'modules/identity.bicep' = {
  name: 'migrator-identity'
  scope: rg
  params: {
    name: '${abbrs.managedIdentityUserAssignedIdentities}healthsync-migrate-${resourceToken}'
    location: location
    tags: tags
  }
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    location: location
    tags: tags
    logAnalyticsName: '${abbrs.operationalInsightsWorkspaces}healthsync-${resourceToken}'
    applicationInsightsName: '${abbrs.insightsComponents}healthsync-${resourceToken}'
    appPrincipalId: identity.outputs.principalId
  }
}

module network 'modules/network.bicep' = if (privateNetworking) {
  name: 'network'
  scope: rg
  params: {
    location: location
    tags: tags
    name: '${abbrs.networkVirtualNetworks}healthsync-${resourceToken}'
    nsgName: '${abbrs.networkNetworkSecurityGroups}healthsync-${resourceToken}'
    appSubnetDelegation: hostingPlan == 'FlexConsumption' ? 'Microsoft.App/environments' : 'Microsoft.Web/serverFarms'
    logAnalyticsWorkspaceId: monitoring.outputs.logAnalyticsWorkspaceId
  }
}

module keyVault 'modules/keyvault.bicep' = {
  name: 'keyvault'
  scope: rg
  params: {
    name: '${abbrs.keyVaultVaults}hs-${resourceToken}'
    location: location
    tags: tags
    appPrincipalId: identity.outputs.principalId
    deployerPrincipalId: principalId
    deployerPrincipalType: principalType
    authSigningKeys: authSigningKeys
    claudeApiKey: claudeApiKey
    tilkoApiKey: tilkoApiKey
    googleClientSecret: googleClientSecret
    publicNetworkAccess: privateNetworking ? 'Disabled' : 'Enabled'
    logAnalyticsWorkspaceId: monitoring.outputs.logAnalyticsWorkspaceId
  }
}

module hostStorage 'modules/storage.bicep' = {
  name: 'host-storage'
  scope: rg
  params: {
    name: '${abbrs.storageStorageAccounts}func${resourceToken}'
    location: location
    tags: tags
    skuName: sizes.hostStorageSku
    // The Functions host keeps its leases and timer state in azure-webjobs-hosts and its keys in
    // azure-webjobs-secrets; they exist beforehand so the app's role can be scoped to them.
    containers: [
      deploymentContainerName
      'azure-webjobs-hosts'
      'azure-webjobs-secrets'
    ]
    publicNetworkAccess: privateNetworking ? 'Disabled' : 'Enabled'
    // The Functions host keeps blobs (leases, timers, keys, the deployment package), queues and tables.
    blobRoleDefinitionId: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b' // Storage Blob Data Owner
    grantQueueAndTable: true
    dataAccount: false
    deployerPrincipalId: hostingPlan == 'Premium' ? principalId : ''
    deployerPrincipalType: principalType
    appPrincipalId: identity.outputs.principalId
    logAnalyticsWorkspaceId: monitoring.outputs.logAnalyticsWorkspaceId
  }
}

module dataStorage 'modules/storage.bicep' = {
  name: 'data-storage'
  scope: rg
  params: {
    name: '${abbrs.storageStorageAccounts}data${resourceToken}'
    location: location
    tags: tags
    skuName: effectiveStorageSku
    containers: [
      checkupContainerName
    ]
    publicNetworkAccess: privateNetworking ? 'Disabled' : 'Enabled'
    blobRoleDefinitionId: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe' // Storage Blob Data Contributor
    grantQueueAndTable: false
    dataAccount: true
    appPrincipalId: identity.outputs.principalId
    logAnalyticsWorkspaceId: monitoring.outputs.logAnalyticsWorkspaceId
  }
}

module postgres 'modules/postgres.bicep' = {
  name: 'postgres'
  scope: rg
  params: {
    name: '${abbrs.dBforPostgreSQLServers}healthsync-${resourceToken}'
    location: location
    tags: tags
    version: postgresVersion
    skuName: effectivePostgresSku
    skuTier: effectivePostgresTier
    storageSizeGB: effectivePostgresStorageGB
    backupRetentionDays: effectivePostgresBackupDays
    geoRedundantBackup: effectivePostgresGeoBackup
    highAvailability: postgresHighAvailability
    readReplica: postgresReadReplica
    replicaLocation: empty(postgresReplicaLocation) ? location : postgresReplicaLocation
    adminPassword: postgresAdminPassword
    databaseName: databaseName
    entraAdminObjectId: principalId
    entraAdminName: principalName
    entraAdminType: principalType
    migratorObjectId: migrator.outputs.principalId
    migratorName: migrator.outputs.name
    delegatedSubnetId: privateNetworking ? network.outputs.postgresSubnetId : ''
    privateDnsZoneId: privateNetworking ? network.outputs.postgresDnsZoneId : ''
    appIdentityName: identity.outputs.name
    appPrincipalId: identity.outputs.principalId
    keyVaultName: keyVault.outputs.name
    logAnalyticsWorkspaceId: monitoring.outputs.logAnalyticsWorkspaceId
  }
}

module migration 'modules/migration.bicep' = {
  name: 'migration'
  scope: rg
  params: {
    location: location
    tags: tags
    storageAccountName: '${abbrs.storageStorageAccounts}rel${resourceToken}'
    logAnalyticsWorkspaceId: monitoring.outputs.logAnalyticsWorkspaceId
    migratorId: migrator.outputs.id
    migratorPrincipalId: migrator.outputs.principalId
    migratorName: migrator.outputs.name
    subnetId: privateNetworking ? network.outputs.deploymentScriptSubnetId : ''
    deployerPrincipalId: principalId
    deployerPrincipalType: principalType
    releaseUrl: releaseUrl
    releaseSha256: releaseSha256
    postgresHost: postgres.outputs.fqdn
    databaseName: databaseName
    appIdentityName: identity.outputs.name
    appPrincipalId: identity.outputs.principalId
  }
}

module redis 'modules/redis.bicep' = {
  name: 'redis'
  scope: rg
  params: {
    name: '${abbrs.cacheRedisEnterprise}healthsync-${resourceToken}'
    location: location
    tags: tags
    skuName: effectiveRedisSku
    highAvailability: effectiveRedisHa
    publicNetworkAccess: privateNetworking ? 'Disabled' : 'Enabled'
    keyVaultName: keyVault.outputs.name
    appPrincipalId: identity.outputs.principalId
    logAnalyticsWorkspaceId: monitoring.outputs.logAnalyticsWorkspaceId
  }
}

module serviceBus 'modules/servicebus.bicep' = {
  name: 'servicebus'
  scope: rg
  params: {
    name: '${abbrs.serviceBusNamespaces}healthsync-${resourceToken}'
    location: location
    tags: tags
    skuName: effectiveServiceBusSku
    subscriptions: serviceBusSubscriptions
    maxDeliveryCount: 10 // src/platform/bus/mod.rs MAX_DELIVERY_COUNT
    publicNetworkAccess: privateNetworking ? 'Disabled' : 'Enabled'
    appPrincipalId: identity.outputs.principalId
    logAnalyticsWorkspaceId: monitoring.outputs.logAnalyticsWorkspaceId
  }
}

module eventHubs 'modules/eventhubs.bicep' = {
  name: 'eventhubs'
  scope: rg
  params: {
    name: '${abbrs.eventHubNamespaces}healthsync-${resourceToken}'
    location: location
    tags: tags
    hubName: 'analytics'
    publicNetworkAccess: privateNetworking ? 'Disabled' : 'Enabled'
    appPrincipalId: identity.outputs.principalId
    logAnalyticsWorkspaceId: monitoring.outputs.logAnalyticsWorkspaceId
  }
}

module notificationHubs 'modules/notificationhubs.bicep' = {
  name: 'notificationhubs'
  scope: rg
  params: {
    name: '${abbrs.notificationHubsNamespaces}healthsync-${resourceToken}'
    location: location
    tags: tags
    hubName: 'nudges'
    sku: effectiveNotificationHubsSku
    keyVaultName: keyVault.outputs.name
    appPrincipalId: identity.outputs.principalId
    logAnalyticsWorkspaceId: monitoring.outputs.logAnalyticsWorkspaceId
  }
}

// What gets a private endpoint with privateNetworking (Service Bus only on Premium, the tier that has them).
var corePrivateEndpoints = [
  {
    name: 'kv'
    id: keyVault.outputs.id
    groupId: 'vault'
    zone: 'privatelink.vaultcore.azure.net'
  }
  {
    name: 'st-func'
    id: hostStorage.outputs.id
    groupId: 'blob'
    zone: 'privatelink.blob.${environment().suffixes.storage}'
  }
  {
    name: 'st-func-queue'
    id: hostStorage.outputs.id
    groupId: 'queue'
    zone: 'privatelink.queue.${environment().suffixes.storage}'
  }
  {
    name: 'st-func-table'
    id: hostStorage.outputs.id
    groupId: 'table'
    zone: 'privatelink.table.${environment().suffixes.storage}'
  }
  {
    name: 'st-data'
    id: dataStorage.outputs.id
    groupId: 'blob'
    zone: 'privatelink.blob.${environment().suffixes.storage}'
  }
  {
    name: 'redis'
    id: redis.outputs.id
    groupId: 'redisEnterprise'
    zone: 'privatelink.redis.azure.net'
  }
  {
    name: 'evh'
    id: eventHubs.outputs.id
    groupId: 'namespace'
    zone: 'privatelink.servicebus.windows.net'
  }
]
var serviceBusPrivateEndpoints = effectiveServiceBusSku == 'Premium' ? [
  {
    name: 'sb'
    id: serviceBus.outputs.id
    groupId: 'namespace'
    zone: 'privatelink.servicebus.windows.net'
  }
] : []
var privateDnsZones = [
  'privatelink.vaultcore.azure.net'
  'privatelink.blob.${environment().suffixes.storage}'
  'privatelink.queue.${environment().suffixes.storage}'
  'privatelink.table.${environment().suffixes.storage}'
  'privatelink.redis.azure.net'
  'privatelink.servicebus.windows.net'
]

module privateEndpoints 'modules/private-endpoints.bicep' = if (privateNetworking) {
  name: 'private-endpoints'
  scope: rg
  params: {
    location: location
    tags: tags
    namePrefix: '${abbrs.networkPrivateEndpoints}healthsync-${resourceToken}'
    subnetId: privateNetworking ? network.outputs.privateEndpointSubnetId : ''
    vnetId: privateNetworking ? network.outputs.vnetId : ''
    targets: concat(corePrivateEndpoints, serviceBusPrivateEndpoints)
    zones: privateDnsZones
  }
}

module frontDoor 'modules/frontdoor.bicep' = if (useFrontDoor) {
  name: 'frontdoor'
  scope: rg
  params: {
    tags: tags
    sku: effectiveFrontDoorSku
    profileName: '${abbrs.cdnProfiles}healthsync-${resourceToken}'
    endpointName: '${abbrs.cdnProfilesEndpoints}healthsync-${resourceToken}'
    wafPolicyName: '${abbrs.networkFrontDoorWebApplicationFirewallPolicies}healthsync${resourceToken}'
    originHostName: '${functionAppName}.azurewebsites.net'
    logAnalyticsWorkspaceId: monitoring.outputs.logAnalyticsWorkspaceId
  }
}

module functionApp 'modules/functionapp.bicep' = {
  name: 'functionapp'
  scope: rg
  params: {
    name: functionAppName
    planName: '${abbrs.webServerFarms}healthsync-${resourceToken}'
    location: location
    tags: tags
    hostingPlan: hostingPlan
    premiumSku: premiumSku
    flexMaximumInstanceCount: flexMaximumInstanceCount
    flexInstanceMemoryMB: flexInstanceMemoryMB
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    identityPrincipalId: identity.outputs.principalId
    packageUrl: packageUrl
    stagingPackageUrl: stagingPackageUrl
    hostStorageAccountName: hostStorage.outputs.name
    deploymentContainerUrl: '${hostStorage.outputs.blobEndpoint}${deploymentContainerName}'
    checkupContainerUrl: '${dataStorage.outputs.blobEndpoint}${checkupContainerName}'
    keyVaultUri: keyVault.outputs.uri
    applicationInsightsConnectionString: monitoring.outputs.applicationInsightsConnectionString
    serviceBusNamespaceFqdn: serviceBus.outputs.fqdn
    serviceBusSku: effectiveServiceBusSku
    eventHubNamespaceFqdn: eventHubs.outputs.fqdn
    eventHubName: eventHubs.outputs.hubName
    notificationHubName: notificationHubs.outputs.hubName
    googleClientIds: googleClientIds
    oidcIssuer: oidcIssuer
    oidcJwksUrl: oidcJwksUrl
    oidcAudiences: oidcAudiences
    appSubnetId: privateNetworking ? network.outputs.appSubnetId : ''
    frontDoorId: useFrontDoor ? frontDoor.outputs.frontDoorId : ''
    triggeredFunctions: concat(serviceBusFunctions, timerFunctions)
    logAnalyticsWorkspaceId: monitoring.outputs.logAnalyticsWorkspaceId
  }
  dependsOn: [
    postgres
    redis
  ]
}

module alerts 'modules/alerts.bicep' = {
  name: 'alerts'
  scope: rg
  params: {
    tags: tags
    actionGroupName: '${abbrs.insightsActionGroups}healthsync-${resourceToken}'
    alertEmail: alertEmail
    functionAppId: functionApp.outputs.id
    applicationInsightsId: monitoring.outputs.applicationInsightsId
    logAnalyticsWorkspaceId: monitoring.outputs.logAnalyticsWorkspaceId
    serviceBusNamespaceId: serviceBus.outputs.id
    postgresServerId: postgres.outputs.id
    isPremium: hostingPlan == 'Premium'
    location: location
  }
}

// ---------------------------------------------------------------------------------------------
// Outputs (azd writes them to .azure/<env>/.env; the pipelines and hooks read them)
// ---------------------------------------------------------------------------------------------

output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = functionApp.outputs.name
output AZURE_FUNCTION_APP_URL string = 'https://${functionApp.outputs.defaultHostName}'
output AZURE_HOSTING_PLAN string = hostingPlan
output AZURE_HAS_STAGING_SLOT bool = hostingPlan == 'Premium'
output AZURE_STAGING_URL string = hostingPlan == 'Premium' ? 'https://${functionApp.outputs.stagingHostName}' : ''
output AZURE_PUBLIC_URL string = useFrontDoor ? 'https://${frontDoor.outputs.endpointHostName}' : 'https://${functionApp.outputs.defaultHostName}'
output AZURE_MANAGED_IDENTITY_CLIENT_ID string = identity.outputs.clientId
output AZURE_MANAGED_IDENTITY_ID string = identity.outputs.id
output AZURE_MANAGED_IDENTITY_NAME string = identity.outputs.name
output AZURE_MANAGED_IDENTITY_PRINCIPAL_ID string = identity.outputs.principalId
output AZURE_ENVIRONMENT_TYPE string = isProduction ? 'production' : 'development'
output AZURE_PRIVATE_NETWORKING bool = privateNetworking
output AZURE_HOST_STORAGE_ACCOUNT string = hostStorage.outputs.name
output AZURE_PACKAGE_CONTAINER string = deploymentContainerName
output AZURE_POSTGRES_ENTRA_ADMIN string = postgres.outputs.entraAdminName
output AZURE_POSTGRES_MIGRATOR string = postgres.outputs.migratorRole
output AZURE_RELEASE_STORAGE_ACCOUNT string = migration.outputs.storageAccountName
output AZURE_RELEASE_CONTAINER string = migration.outputs.releaseContainerName
// The SHA-256 of the binary the database was last migrated with (the deployment script's own
// output): scripts/deploy-azure and the predeploy guard refuse to ship any other build.
output AZURE_MIGRATED_SHA256 string = migration.outputs.migratedSha256
output AZURE_POSTGRES_ADMIN_LOGIN string = postgres.outputs.administratorLogin
output AZURE_KEY_VAULT_NAME string = keyVault.outputs.name
output AZURE_KEY_VAULT_URI string = keyVault.outputs.uri
output AZURE_POSTGRES_SERVER_NAME string = postgres.outputs.name
output AZURE_POSTGRES_HOST string = postgres.outputs.fqdn
output AZURE_POSTGRES_DATABASE string = databaseName
output AZURE_POSTGRES_REPLICA_NAME string = postgres.outputs.replicaName
output AZURE_REDIS_HOST string = redis.outputs.hostName
output AZURE_SERVICE_BUS_NAMESPACE string = serviceBus.outputs.fqdn
output AZURE_EVENT_HUB_NAMESPACE string = eventHubs.outputs.fqdn
output AZURE_CHECKUP_CONTAINER_URL string = '${dataStorage.outputs.blobEndpoint}${checkupContainerName}'
output AZURE_LOG_ANALYTICS_WORKSPACE_ID string = monitoring.outputs.logAnalyticsWorkspaceId
output APPLICATIONINSIGHTS_NAME string = monitoring.outputs.applicationInsightsName
output AZURE_FRONT_DOOR_ID string = useFrontDoor ? frontDoor.outputs.frontDoorId : ''
