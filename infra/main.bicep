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

@description('Private networking: app VNet integration, PostgreSQL in a delegated subnet, private endpoints for Key Vault, storage, Redis, Event Hubs and Service Bus (Premium) with public access off. Always on for a `prod*` environment.')
param useVnet bool = false

@description('Front Door Premium + WAF in front of the app, the app accepting only Front Door. Off for cheap environments.')
param useFrontDoor bool = true

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
param postgresSkuName string = 'Standard_D2ds_v5'

@allowed([
  'Burstable'
  'GeneralPurpose'
  'MemoryOptimized'
])
param postgresSkuTier string = 'GeneralPurpose'

param postgresStorageSizeGB int = 64

@minValue(7)
@maxValue(35)
param postgresBackupRetentionDays int = 35

param postgresGeoRedundantBackup bool = true

@description('Zone-redundant high availability (a standby in another zone). Not available on Burstable.')
param postgresHighAvailability bool = false

@description('A read replica (for reporting and as a promotion target).')
param postgresReadReplica bool = false

@description('Region of the read replica; empty = the primary region. With useVnet the replica must stay in the primary region.')
param postgresReplicaLocation string = ''

@description('Azure Managed Redis SKU (Balanced_B0 is the smallest).')
param redisSku string = 'Balanced_B1'

param redisHighAvailability bool = true

@allowed([
  'Standard_GZRS'
  'Standard_RAGZRS'
])
@description('Redundancy of the checkup-files account: zone- and geo-redundant.')
param storageSku string = 'Standard_GZRS'

@allowed([
  'Standard'
  'Premium'
])
param serviceBusSku string = 'Standard'

// ---------------------------------------------------------------------------------------------
// App configuration
// ---------------------------------------------------------------------------------------------

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
// Production is private by default: the VNet and private endpoints, no `0.0.0.0` PostgreSQL rule
// (it admits every Azure tenant's addresses), and Service Bus Premium (the tier with private
// endpoints). Other environments choose with useVnet.
var isProduction = startsWith(toLower(environmentName), 'prod')
var privateNetworking = useVnet || isProduction
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
    skuName: 'Standard_ZRS'
    containers: [
      deploymentContainerName
    ]
    publicNetworkAccess: privateNetworking ? 'Disabled' : 'Enabled'
    // The Functions host keeps blobs (leases, timers, the deployment package), queues and tables.
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
    skuName: storageSku
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
    skuName: postgresSkuName
    skuTier: postgresSkuTier
    storageSizeGB: postgresStorageSizeGB
    backupRetentionDays: postgresBackupRetentionDays
    geoRedundantBackup: postgresGeoRedundantBackup
    highAvailability: postgresHighAvailability
    readReplica: postgresReadReplica
    replicaLocation: empty(postgresReplicaLocation) ? location : postgresReplicaLocation
    adminPassword: postgresAdminPassword
    databaseName: databaseName
    entraAdminObjectId: principalId
    entraAdminName: principalName
    entraAdminType: principalType
    delegatedSubnetId: privateNetworking ? network.outputs.postgresSubnetId : ''
    privateDnsZoneId: privateNetworking ? network.outputs.postgresDnsZoneId : ''
    appIdentityName: identity.outputs.name
    keyVaultName: keyVault.outputs.name
    logAnalyticsWorkspaceId: monitoring.outputs.logAnalyticsWorkspaceId
  }
}

module redis 'modules/redis.bicep' = {
  name: 'redis'
  scope: rg
  params: {
    name: '${abbrs.cacheRedisEnterprise}healthsync-${resourceToken}'
    location: location
    tags: tags
    skuName: redisSku
    highAvailability: redisHighAvailability
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
    keyVaultName: keyVault.outputs.name
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
output AZURE_PRIVATE_NETWORKING bool = privateNetworking
output AZURE_HOST_STORAGE_ACCOUNT string = hostStorage.outputs.name
output AZURE_PACKAGE_CONTAINER string = deploymentContainerName
output AZURE_POSTGRES_ENTRA_ADMIN string = postgres.outputs.entraAdminName
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
