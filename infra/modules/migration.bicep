// Database migrations inside the network, as part of the provision (issue 24). A deployment
// script (Microsoft.Resources/deploymentScripts 2023-08-01, Azure CLI image) runs in an Azure
// Container Instance; when the environment is private, in the VNet's `deployment-scripts` subnet
// (delegated to Microsoft.ContainerInstance/containerGroups), so it reaches PostgreSQL where the
// pipelines' Microsoft-hosted agents cannot. It downloads the release package the provision was
// given (scripts/deploy-azure stage uploads it to this module's `releases` container), checks the
// binary's SHA-256, and runs `healthsync migrate` as the migrator identity: a PostgreSQL Entra
// admin used by nothing else. The app's identity keeps only the `healthsync_app` rights; no
// process that serves requests holds DDL rights. Why this and not migrations applied by the app
// itself: docs/decisions.md and infra/README.md.
//
// Sources: "Access a private virtual network from a Bicep deployment script"
// (learn.microsoft.com/azure/azure-resource-manager/bicep/deployment-script-vnet: a user-assigned
// identity with Storage File Data Privileged Contributor on the script's storage account, the
// account reachable from the subnet through a service endpoint, trusted Azure services allowed)
// and "Develop a deployment script in Bicep" (…/deployment-script-develop: an existing storage
// account must allow shared key access, the only way ACI mounts the script's file share;
// forceUpdateTag re-runs the script; retentionInterval at most 26 hours).
param location string
param tags object
param storageAccountName string
param logAnalyticsWorkspaceId string

@description('The migrator identity: resource id, object id and name (its PostgreSQL role).')
param migratorId string
param migratorPrincipalId string
param migratorName string

@description('The ACI subnet; empty: the container runs outside any VNet (development without useVnet, where PostgreSQL admits Azure addresses).')
param subnetId string

@description('Whoever provisions: may upload release packages.')
param deployerPrincipalId string
param deployerPrincipalType string

@description('Blob URL of the release package to migrate with (scripts/deploy-azure stage); empty: no migration in this provision.')
param releaseUrl string

@description('SHA-256 of the `healthsync` binary in that package: the script refuses any other, and a new value runs it again.')
param releaseSha256 string

param postgresHost string
param databaseName string

@description('The app\'s identity: its PostgreSQL role and object id (DATABASE_APP_PRINCIPAL).')
param appIdentityName string
param appPrincipalId string

@description('Azure CLI image of the script (a version certified for deployment scripts).')
param azCliVersion string = '2.61.0'

var releaseContainerName = 'releases'
var isPrivate = !empty(subnetId)
var vnetRules = isPrivate ? [
  {
    id: subnetId
    action: 'Allow'
  }
] : []
var privateContainer = {
  subnetIds: [
    {
      id: subnetId
    }
  ]
}
var containerSettings = isPrivate ? privateContainer : {}
// scripts/deploy-azure finds this account by the tag (a pipeline starts without azd's outputs).
var releaseRole = {
  'healthsync-role': 'releases'
}
var releaseTags = union(tags, releaseRole)

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  // checkov:skip=CKV_AZURE_35: the firewall denies by default when the environment is private (isPrivate), admitting the ACI subnet and trusted Azure services; the pipeline's upload passes through a temporary IP rule (scripts/deploy-azure stage)
  // checkov:skip=CKV_AZURE_59: public network access stays Enabled behind that deny-by-default firewall: the pipelines upload each release from Microsoft-hosted agents; shared keys stay on because a deployment script mounts its file share with the account key, the only way ACI can (deployment-script-develop); the account holds release packages and script output, no user data
  // checkov:skip=CKV_AZURE_43: the name is built in main.bicep (st + rel + the resource token: lowercase letters and digits, 18 characters), which checkov cannot see across modules
  // checkov:skip=CKV_AZURE_206: locally redundant on purpose: packages are rebuilt from the repository and script output is transient
  name: storageAccountName
  location: location
  tags: releaseTags
  kind: 'StorageV2'
  sku: {
    name: 'Standard_LRS'
  }
  properties: {
    accessTier: 'Hot'
    allowBlobPublicAccess: false
    allowSharedKeyAccess: true
    allowCrossTenantReplication: false
    defaultToOAuthAuthentication: true
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: isPrivate ? 'Deny' : 'Allow'
      virtualNetworkRules: vnetRules
      ipRules: []
    }
    encryption: {
      keySource: 'Microsoft.Storage'
      requireInfrastructureEncryption: true
      services: {
        blob: {
          enabled: true
        }
        file: {
          enabled: true
        }
      }
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: account
  name: 'default'
  properties: {
    deleteRetentionPolicy: {
      enabled: true
      days: 7
    }
    containerDeleteRetentionPolicy: {
      enabled: true
      days: 7
    }
  }
}

resource fileService 'Microsoft.Storage/storageAccounts/fileServices@2023-05-01' existing = {
  parent: account
  name: 'default'
}

resource releases 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: releaseContainerName
  properties: {
    publicAccess: 'None'
  }
}

// The migrator mounts the script's share (the documented role for a deployment script with its
// own storage account) and reads releases; the deployer uploads them. Nothing else.
var fileDataPrivilegedContributor = '69566ab7-960f-475b-8e7c-b3118f30c6bd'
var blobDataReader = '2a2b9908-6ea1-4ae2-8e65-a410df84e7d1'
var blobDataContributor = 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'

resource migratorFiles 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(account.id, migratorPrincipalId, fileDataPrivilegedContributor)
  scope: account
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', fileDataPrivilegedContributor)
    principalId: migratorPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource migratorReleases 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(releases.id, migratorPrincipalId, blobDataReader)
  scope: releases
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', blobDataReader)
    principalId: migratorPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource deployerReleases 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(deployerPrincipalId)) {
  name: guid(releases.id, deployerPrincipalId, blobDataContributor)
  scope: releases
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', blobDataContributor)
    principalId: deployerPrincipalId
    principalType: deployerPrincipalType
  }
}

// Runs when the provision is given a release whose binary it has not migrated with yet (a new
// releaseSha256), and again once the resource has expired (retentionInterval): migrations are
// idempotent, so a second run applies nothing.
resource migrate 'Microsoft.Resources/deploymentScripts@2023-08-01' = if (!empty(releaseUrl)) {
  name: 'migrate-database'
  location: location
  tags: tags
  kind: 'AzureCLI'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${migratorId}': {}
    }
  }
  properties: {
    azCliVersion: azCliVersion
    storageAccountSettings: {
      storageAccountName: account.name
      storageAccountKey: account.listKeys().keys[0].value
    }
    containerSettings: containerSettings
    environmentVariables: [
      {
        name: 'RELEASE_URL'
        value: releaseUrl
      }
      {
        name: 'RELEASE_SHA256'
        value: releaseSha256
      }
      {
        name: 'POSTGRES_HOST'
        value: postgresHost
      }
      {
        name: 'POSTGRES_DATABASE'
        value: databaseName
      }
      {
        name: 'MIGRATOR_ROLE'
        value: migratorName
      }
      {
        name: 'APP_ROLE'
        value: appIdentityName
      }
      {
        name: 'APP_OBJECT_ID'
        value: appPrincipalId
      }
    ]
    scriptContent: loadTextContent('migrate.sh')
    forceUpdateTag: releaseSha256
    timeout: 'PT30M'
    cleanupPreference: 'OnSuccess'
    retentionInterval: 'PT26H'
  }
  dependsOn: [
    migratorFiles
    migratorReleases
  ]
}

resource blobDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: blobService
  properties: {
    workspaceId: logAnalyticsWorkspaceId
    logs: [
      {
        categoryGroup: 'audit'
        enabled: true
      }
    ]
  }
}

resource fileDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: fileService
  properties: {
    workspaceId: logAnalyticsWorkspaceId
    logs: [
      {
        categoryGroup: 'audit'
        enabled: true
      }
    ]
  }
}

output storageAccountName string = account.name
output releaseContainerName string = releases.name
output migratedSha256 string = empty(releaseUrl) ? '' : migrate.properties.outputs.migratedSha256
