// The function app: Flex Consumption with the custom runtime (default), or Elastic Premium with a
// `staging` slot for blue-green swaps. It runs as the user-assigned identity; every secret in its
// settings is a Key Vault reference and every Azure connection is identity-based.
param name string
param planName string
param location string
param tags object

@allowed([
  'FlexConsumption'
  'Premium'
])
param hostingPlan string
param premiumSku string
param flexMaximumInstanceCount int
param flexInstanceMemoryMB int

param identityId string
param identityClientId string
param identityPrincipalId string
param hostStorageAccountName string
param deploymentContainerUrl string
param checkupContainerUrl string
param keyVaultUri string
param applicationInsightsConnectionString string
param serviceBusNamespaceFqdn string
@description('The Service Bus tier: it sets the largest batch the relay sends (SERVICE_BUS_SKU).')
param serviceBusSku string
param eventHubNamespaceFqdn string
param eventHubName string
param notificationHubName string
param googleClientIds string
param oidcIssuer string
param oidcJwksUrl string
param oidcAudiences string
param logAnalyticsWorkspaceId string

@description('Outbound VNet integration subnet; empty = none.')
param appSubnetId string

@description('Front Door profile id (X-Azure-FDID); empty = no Front Door, the app is reached directly.')
param frontDoorId string

@description('Timer and Service Bus functions: disabled in the staging slot (slot-sticky) so only production consumes.')
param triggeredFunctions array

@description('Premium: the blob URL of the package production runs (WEBSITE_RUN_FROM_PACKAGE), kept across provisions; empty until the first deploy.')
param packageUrl string = ''

@description('Premium: the same for the staging slot.')
param stagingPackageUrl string = ''

var isFlex = hostingPlan == 'FlexConsumption'
// azd finds the deploy target of service `api` (azure.yaml) by this tag.
var serviceTag = {
  'azd-service-name': 'api'
}
var kv = '@Microsoft.KeyVault(SecretUri=${keyVaultUri}secrets'

// The app settings: the defaults of every non-secret setting the code declares, generated into
// ../catalog.json from the domain list (`healthsync generate --write`), overlaid with what only the
// deployment knows (resource names, identities, Key Vault references for every secret). The test
// suite checks that every setting the code uses in Azure is set here and that secrets are Key
// Vault references.
var generatedSettings = loadJsonContent('../catalog.json').appSettingDefaults
var deploymentSettings = {
  // Functions host storage, identity-based (no account key anywhere).
  AzureWebJobsStorage__accountName: hostStorageAccountName
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identityClientId
  // Telemetry with Entra auth (App Insights local auth is off).
  APPLICATIONINSIGHTS_CONNECTION_STRING: applicationInsightsConnectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'
  // azure_identity's ManagedIdentityCredential picks the user-assigned identity by this id.
  AZURE_CLIENT_ID: identityClientId
  // Service Bus triggers (binding connection `ServiceBusConnection`) and the relay's sender.
  ServiceBusConnection__fullyQualifiedNamespace: serviceBusNamespaceFqdn
  ServiceBusConnection__credential: 'managedidentity'
  ServiceBusConnection__clientId: identityClientId
  // The relay cuts its batches under the tier's limit (256 KB Standard, 1 MB Premium).
  SERVICE_BUS_SKU: serviceBusSku
  // Analytics events.
  EVENT_HUB_NAMESPACE: eventHubNamespaceFqdn
  EVENT_HUB_NAME: eventHubName
  EVENT_HUB_SKU: 'Standard' // modules/eventhubs.bicep: 1 MB batches
  // Data: PostgreSQL and Redis as the managed identity with Entra tokens (no password, no key).
  DATABASE_URL: '${kv}/database-url/)'
  DATABASE_AUTH: 'entra'
  REDIS_URL: '${kv}/redis-url/)'
  REDIS_AUTH: 'entra'
  REDIS_USERNAME: identityPrincipalId
  BLOB_CONTAINER_URL: checkupContainerUrl
  // Behind Front Door only Front Door can reach the app, so its X-Azure-ClientIP is trustworthy.
  CLIENT_IP_HEADER: empty(frontDoorId) ? 'X-Forwarded-For' : 'X-Azure-ClientIP'
  // Identity.
  AUTH_SIGNING_KEYS: '${kv}/auth-signing-keys/)'
  GOOGLE_CLIENT_IDS: googleClientIds
  GOOGLE_CLIENT_SECRET: '${kv}/google-client-secret/)'
  OIDC_ISSUER: oidcIssuer
  OIDC_JWKS_URL: oidcJwksUrl
  OIDC_AUDIENCES: oidcAudiences
  // AI.
  ANTHROPIC_API_KEY: '${kv}/claude-api-key/)'
  // NHIS checkups through the aggregator.
  TILKO_API_KEY: '${kv}/tilko-api-key/)'
  // Push through Notification Hubs (a Send-only rule's connection string, written by its module).
  NOTIFICATION_HUB_CONNECTION: '${kv}/notification-hub-connection/)'
  NOTIFICATION_HUB_NAME: notificationHubName
}
var appSettings = union(generatedSettings, deploymentSettings)

// Premium runs the classic way: the runtime comes from settings. Without an Azure Files content
// share (it needs a storage account key; shared keys are off) `WEBSITE_RUN_FROM_PACKAGE=1` has
// nowhere to keep the package, so the documented way is a private blob URL read with the
// user-assigned identity (`WEBSITE_RUN_FROM_PACKAGE_BLOB_MI_RESOURCE_ID`), per slot: "Run your
// app in Azure App Service directly from a ZIP package", https://learn.microsoft.com/azure/app-service/deploy-run-package
// (and "Storage considerations for Azure Functions" on running without Azure Files).
// scripts/deploy-azure uploads each package, points the staging slot at it and swaps; the URLs
// come back in through `packageUrl`/`stagingPackageUrl` so a provision never unsets them.
var premiumSettings = {
  FUNCTIONS_EXTENSION_VERSION: '~4'
  FUNCTIONS_WORKER_RUNTIME: 'custom'
  WEBSITE_RUN_FROM_PACKAGE_BLOB_MI_RESOURCE_ID: identityId
}
var productionPackage = empty(packageUrl) ? {} : {
  WEBSITE_RUN_FROM_PACKAGE: packageUrl
}
var stagingPackage = empty(stagingPackageUrl) ? {} : {
  WEBSITE_RUN_FROM_PACKAGE: stagingPackageUrl
}

// AzureWebJobs.<Function>.Disabled for each triggered function ('false' in production, 'true'
// in staging; slot-sticky, so a swap never moves them).
var disabledSettingNames = [for f in triggeredFunctions: 'AzureWebJobs.${f}.Disabled']
var productionTriggerSettings = empty(triggeredFunctions) ? {} : json('{"${join(disabledSettingNames, '": "false", "')}": "false"}')
var stagingTriggerSettings = empty(triggeredFunctions) ? {} : json('{"${join(disabledSettingNames, '": "true", "')}": "true"}')

// Only Front Door (its service tag, with this profile's id in X-Azure-FDID) may call the app.
var frontDoorRestrictions = empty(frontDoorId) ? [] : [
  {
    name: 'front-door-only'
    action: 'Allow'
    priority: 100
    tag: 'ServiceTag'
    ipAddress: 'AzureFrontDoor.Backend'
    headers: {
      'x-azure-fdid': [
        frontDoorId
      ]
    }
  }
]

var flexSku = {
  name: 'FC1'
  tier: 'FlexConsumption'
}
var premiumPlanSku = {
  name: premiumSku
  tier: 'ElasticPremium'
}
var flexConfig = {
  deployment: {
    storage: {
      type: 'blobContainer'
      value: deploymentContainerUrl
      authentication: {
        type: 'UserAssignedIdentity'
        userAssignedIdentityResourceId: identityId
      }
    }
  }
  scaleAndConcurrency: {
    maximumInstanceCount: flexMaximumInstanceCount
    instanceMemoryMB: flexInstanceMemoryMB
  }
  runtime: {
    name: 'custom'
    version: '1.0'
  }
}

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  // checkov:skip=CKV_AZURE_225: zone redundancy is a cost decision per environment (Premium needs 3+ always-ready instances for it); turn it on with the plan's zoneRedundant when production needs it
  name: planName
  location: location
  tags: tags
  kind: isFlex ? 'functionapp' : 'elastic'
  sku: isFlex ? flexSku : premiumPlanSku
  properties: {
    reserved: true
    maximumElasticWorkerCount: isFlex ? null : 20
  }
}

resource site 'Microsoft.Web/sites@2024-04-01' = {
  // checkov:skip=CKV_AZURE_222: the API is public by design (the mobile app); with Front Door on, access restrictions admit only Front Door with this profile's X-Azure-FDID
  // checkov:skip=CKV_AZURE_17: clients are mobile apps that authenticate with bearer tokens, not client certificates
  // checkov:skip=CKV_AZURE_212: Flex Consumption scales per function from zero; Premium keeps minimumElasticInstanceCount 1 warm
  // checkov:skip=CKV_AZURE_213: Premium gets healthCheckPath /api/system/live; Flex Consumption has no App Service health check
  // checkov:skip=CKV_AZURE_78: ftpsState is Disabled on Premium; Flex Consumption rejects the property (ARM 51021) and has no FTP endpoint, and basic publishing credentials are off on both (ftpCredentials below)
  name: name
  location: location
  tags: union(tags, serviceTag)
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    clientCertEnabled: false
    keyVaultReferenceIdentity: identityId
    virtualNetworkSubnetId: empty(appSubnetId) ? null : appSubnetId
    siteConfig: {
      minTlsVersion: '1.2'
      scmMinTlsVersion: '1.2'
      // Premium only: newer Flex Consumption regions reject siteConfig.ftpsState (ARM error 51021,
      // "not supported for Flex Consumption"); Flex has no FTP endpoint, and the basic publishing
      // credentials below are off on both plans. See infra/README.md for the what-if check.
      ftpsState: isFlex ? null : 'Disabled'
      http20Enabled: true
      ipSecurityRestrictions: frontDoorRestrictions
      ipSecurityRestrictionsDefaultAction: empty(frontDoorId) ? 'Allow' : 'Deny'
      // The deployment (scm) endpoint stays reachable for the pipelines: Entra auth only.
      scmIpSecurityRestrictionsUseMain: false
      // Premium only (Flex Consumption scales per function and has no health check):
      healthCheckPath: isFlex ? null : '/api/system/live'
      minimumElasticInstanceCount: isFlex ? null : 1
      functionsRuntimeScaleMonitoringEnabled: isFlex ? null : true
      vnetRouteAllEnabled: isFlex ? null : !empty(appSubnetId)
    }
    functionAppConfig: isFlex ? flexConfig : null
  }
}

resource settings 'Microsoft.Web/sites/config@2024-04-01' = {
  // checkov:skip=CKV_AZURE_13: this is the app-settings resource; the app authenticates users itself (Google ID tokens, its own JWTs), not with App Service Authentication
  // checkov:skip=CKV_AZURE_88: no Azure Files content share on purpose: it needs a storage account key (shared keys are off); Flex runs from its deployment container and Premium from the mounted package
  // checkov:skip=CKV_AZURE_63: IIS-style HTTP logs do not apply to a Linux function app; requests go to Application Insights and FunctionAppLogs
  // checkov:skip=CKV_AZURE_65: detailed error pages do not apply to a Linux function app (see CKV_AZURE_63)
  // checkov:skip=CKV_AZURE_66: failed request tracing does not apply to a Linux function app (see CKV_AZURE_63)
  // checkov:skip=CKV_AZURE_80: no .NET in this app (a Rust custom handler)
  // checkov:skip=CKV_AZURE_222: see the site: public API behind Front Door access restrictions
  parent: site
  name: 'appsettings'
  properties: isFlex ? appSettings : union(appSettings, premiumSettings, productionPackage, productionTriggerSettings)
}

// Basic (publishing-profile) credentials off: deployments authenticate with Entra ID.
resource ftpCredentials 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: site
  name: 'ftp'
  properties: {
    allow: false
  }
}

resource scmCredentials 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: site
  name: 'scm'
  properties: {
    allow: false
  }
}

// ---- Premium: the staging slot ---------------------------------------------------------------

resource slotSticky 'Microsoft.Web/sites/config@2024-04-01' = if (!isFlex) {
  // checkov:skip=CKV_AZURE_13: this is the app-settings resource; the app authenticates users itself (Google ID tokens, its own JWTs), not with App Service Authentication
  // checkov:skip=CKV_AZURE_88: no Azure Files content share on purpose: it needs a storage account key (shared keys are off); Flex runs from its deployment container and Premium from the mounted package
  // checkov:skip=CKV_AZURE_63: IIS-style HTTP logs do not apply to a Linux function app; requests go to Application Insights and FunctionAppLogs
  // checkov:skip=CKV_AZURE_65: detailed error pages do not apply to a Linux function app (see CKV_AZURE_63)
  // checkov:skip=CKV_AZURE_66: failed request tracing does not apply to a Linux function app (see CKV_AZURE_63)
  // checkov:skip=CKV_AZURE_80: no .NET in this app (a Rust custom handler)
  // checkov:skip=CKV_AZURE_222: see the site: public API behind Front Door access restrictions
  parent: site
  name: 'slotConfigNames'
  properties: {
    appSettingNames: disabledSettingNames
  }
}

resource staging 'Microsoft.Web/sites/slots@2024-04-01' = if (!isFlex) {
  // checkov:skip=CKV_AZURE_222: the API is public by design (the mobile app); with Front Door on, access restrictions admit only Front Door with this profile's X-Azure-FDID
  // checkov:skip=CKV_AZURE_17: clients are mobile apps that authenticate with bearer tokens, not client certificates
  // checkov:skip=CKV_AZURE_212: Flex Consumption scales per function from zero; Premium keeps minimumElasticInstanceCount 1 warm
  // checkov:skip=CKV_AZURE_213: Premium gets healthCheckPath /api/system/live; Flex Consumption has no App Service health check
  // checkov:skip=CKV_AZURE_153: httpsOnly is true on the slot as on the site; checkov does not read the properties of a conditional (`if`) slot
  // checkov:skip=CKV_AZURE_67: http20Enabled is true on the slot as on the site (same reason as CKV_AZURE_153)
  parent: site
  name: 'staging'
  location: location
  tags: tags
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    clientCertEnabled: false
    keyVaultReferenceIdentity: identityId
    virtualNetworkSubnetId: empty(appSubnetId) ? null : appSubnetId
    siteConfig: {
      minTlsVersion: '1.2'
      scmMinTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
      ipSecurityRestrictions: frontDoorRestrictions
      ipSecurityRestrictionsDefaultAction: empty(frontDoorId) ? 'Allow' : 'Deny'
      // The deployment (scm) endpoint stays reachable for the pipelines: Entra auth only.
      scmIpSecurityRestrictionsUseMain: false
      // Premium only (Flex Consumption scales per function and has no health check):
      healthCheckPath: isFlex ? null : '/api/system/live'
      minimumElasticInstanceCount: isFlex ? null : 1
      functionsRuntimeScaleMonitoringEnabled: isFlex ? null : true
      vnetRouteAllEnabled: isFlex ? null : !empty(appSubnetId)
    }
  }
}

resource stagingSettings 'Microsoft.Web/sites/slots/config@2024-04-01' = if (!isFlex) {
  parent: staging
  name: 'appsettings'
  properties: union(appSettings, premiumSettings, stagingPackage, stagingTriggerSettings)
}

resource stagingFtpCredentials 'Microsoft.Web/sites/slots/basicPublishingCredentialsPolicies@2024-04-01' = if (!isFlex) {
  parent: staging
  name: 'ftp'
  properties: {
    allow: false
  }
}

resource stagingScmCredentials 'Microsoft.Web/sites/slots/basicPublishingCredentialsPolicies@2024-04-01' = if (!isFlex) {
  parent: staging
  name: 'scm'
  properties: {
    allow: false
  }
}

resource diagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: site
  properties: {
    workspaceId: logAnalyticsWorkspaceId
    logs: [
      {
        category: 'FunctionAppLogs'
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

// The staging slot logs like production (its smoke tests and warm-up happen there).
resource stagingDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = if (!isFlex) {
  name: 'to-log-analytics'
  scope: staging
  properties: {
    workspaceId: logAnalyticsWorkspaceId
    logs: [
      {
        category: 'FunctionAppLogs'
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

output id string = site.id
output name string = site.name
output defaultHostName string = site.properties.defaultHostName
output stagingHostName string = isFlex ? '' : staging.properties.defaultHostName
