// A storage account reached only with Entra ID (shared keys off), no anonymous access, TLS 1.2,
// blob soft delete. Used twice: the Functions host's account (leases, timers, the deployment
// package) and the checkup-files account (zone- and geo-redundant).
//
// Only the data account gets versioning, a change feed and the lifecycle rule. Microsoft advises
// against them on a Functions host account (the host rewrites its lease and timer blobs all the
// time, so versions and change-feed records pile up): "Storage considerations for Azure
// Functions", https://learn.microsoft.com/azure/azure-functions/storage-considerations.
param name string
param location string
param tags object
param skuName string
@description('The containers this account holds, created here; the app gets its blob role on each, the deployer on the first.')
param containers array
param appPrincipalId string
param logAnalyticsWorkspaceId string

@description('Role the app gets on each of `containers` (not on the account).')
param blobRoleDefinitionId string

@description('Also grant queue and table data roles (the Functions host uses them).')
param grantQueueAndTable bool

@allowed([
  'Enabled'
  'Disabled'
])
param publicNetworkAccess string

@minValue(7)
param softDeleteDays int = 30

@description('The data account (versioning, change feed, lifecycle rule); false for the Functions host account.')
param dataAccount bool

@description('Object id of whoever deploys (uploads packages to this account on Premium); empty = none.')
param deployerPrincipalId string = ''
param deployerPrincipalType string = 'User'

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  // checkov:skip=CKV_AZURE_35: defaultAction is Deny when useVnet puts the account behind private endpoints; without a VNet the app's outbound addresses are not fixed, and access is Entra ID only (shared keys off) over TLS 1.2
  // checkov:skip=CKV_AZURE_206: replication is passed in by main.bicep (Standard_ZRS for the host account, Standard_GZRS/RAGZRS for checkup files), which checkov cannot see across modules
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: skuName
  }
  properties: {
    accessTier: 'Hot'
    allowBlobPublicAccess: false
    allowSharedKeyAccess: false
    allowCrossTenantReplication: false
    defaultToOAuthAuthentication: true
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    publicNetworkAccess: publicNetworkAccess
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: publicNetworkAccess == 'Enabled' ? 'Allow' : 'Deny'
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
        queue: {
          enabled: true
          keyType: 'Account'
        }
        table: {
          enabled: true
          keyType: 'Account'
        }
      }
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: account
  name: 'default'
  properties: {
    isVersioningEnabled: dataAccount
    // The change feed names every blob written, and blob names carry user ids (users/{id}/...):
    // it is kept no longer than the erasure promise of docs/operations.md (softDeleteDays + 1).
    changeFeed: {
      enabled: dataAccount
      retentionInDays: dataAccount ? softDeleteDays : null
    }
    deleteRetentionPolicy: {
      enabled: true
      days: softDeleteDays
    }
    containerDeleteRetentionPolicy: {
      enabled: true
      days: softDeleteDays
    }
  }
}

// Versioning keeps a blob's earlier versions after it is overwritten or deleted. A user's erasure
// (개인정보보호법 §36) must not leave them forever: earlier versions go after a day, and soft-deleted
// data after the soft-delete retention, so an erasure is complete within softDeleteDays + 1 days.
resource lifecycle 'Microsoft.Storage/storageAccounts/managementPolicies@2023-05-01' = if (dataAccount) {
  parent: account
  name: 'default'
  properties: {
    policy: {
      rules: [
        {
          enabled: true
          name: 'expire-previous-versions'
          type: 'Lifecycle'
          definition: {
            filters: {
              blobTypes: [
                'blockBlob'
              ]
            }
            actions: {
              version: {
                delete: {
                  daysAfterCreationGreaterThan: 1
                }
              }
            }
          }
        }
      ]
    }
  }
  dependsOn: [
    blobService
  ]
}

resource blobContainers 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = [
  for c in containers: {
    parent: blobService
    name: c
    properties: {
      publicAccess: 'None'
    }
  }
]

// The app's blob role on each container it uses, never on the account: a container-scoped
// assignment covers that container's blobs only ("Authorize access to blobs with Microsoft Entra
// ID": roles can be scoped to an individual container,
// learn.microsoft.com/azure/storage/blobs/authorize-access-azure-active-directory).
resource blobRoles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for (c, i) in containers: {
    name: guid(blobContainers[i].id, appPrincipalId, blobRoleDefinitionId)
    scope: blobContainers[i]
    properties: {
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', blobRoleDefinitionId)
      principalId: appPrincipalId
      principalType: 'ServicePrincipal'
    }
  }
]

// Storage Queue Data Contributor and Storage Table Data Contributor, on the account: the Functions
// host names its queues and tables itself at run time (e.g. one diagnostic-events table per
// month), so there is no fixed entity to scope them to.
resource hostRoles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for roleId in (grantQueueAndTable ? ['974c5e8b-45b9-4653-ba55-5f855dd0fb88', '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'] : []): {
    name: guid(account.id, appPrincipalId, roleId)
    scope: account
    properties: {
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleId)
      principalId: appPrincipalId
      principalType: 'ServicePrincipal'
    }
  }
]

// Storage Blob Data Contributor for the deployer on the first container (the package
// container): on Premium the pipeline uploads each package there and points
// WEBSITE_RUN_FROM_PACKAGE at it (scripts/deploy-azure).
resource deployerBlobRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(deployerPrincipalId)) {
  name: guid(blobContainers[0].id, deployerPrincipalId, 'ba92f5b4-2d11-453d-a403-e96b0029c9fe')
  scope: blobContainers[0]
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', 'ba92f5b4-2d11-453d-a403-e96b0029c9fe')
    principalId: deployerPrincipalId
    principalType: deployerPrincipalType
  }
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

// The host account's queues and tables (the Functions host's own bookkeeping) log too.
resource queueService 'Microsoft.Storage/storageAccounts/queueServices@2023-05-01' existing = {
  parent: account
  name: 'default'
}

resource tableService 'Microsoft.Storage/storageAccounts/tableServices@2023-05-01' existing = {
  parent: account
  name: 'default'
}

resource queueDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = if (grantQueueAndTable) {
  name: 'to-log-analytics'
  scope: queueService
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

resource tableDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = if (grantQueueAndTable) {
  name: 'to-log-analytics'
  scope: tableService
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

output id string = account.id
output name string = account.name
output blobEndpoint string = account.properties.primaryEndpoints.blob
