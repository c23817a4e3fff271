// Key Vault holding every secret the app reads (as Key Vault references in its app settings):
// RBAC authorization, soft delete, purge protection. Secrets that come from people (signing keys,
// the Claude key, the Google client secret, the Tilko key) are written only when a value is
// passed, so a provision never overwrites a key rotated by hand, and the app may read each of them
// once it has been written through its parameter; the PostgreSQL, Redis and Notification Hubs
// modules write theirs. The app reads only the secrets it needs (per-secret role assignments).
param name string
param location string
param tags object
param appPrincipalId string
param deployerPrincipalId string
param deployerPrincipalType string
param logAnalyticsWorkspaceId string

@allowed([
  'Enabled'
  'Disabled'
])
param publicNetworkAccess string

@secure()
param authSigningKeys string
@secure()
param claudeApiKey string
@secure()
param googleClientSecret string
@secure()
param tilkoApiKey string

// Secret names (app setting → secret): AUTH_SIGNING_KEYS → auth-signing-keys, CLAUDE_API_KEY →
// claude-api-key, GOOGLE_CLIENT_SECRET → google-client-secret, TILKO_API_KEY → tilko-api-key, DATABASE_URL → database-url,
// REDIS_URL → redis-url, postgres-admin-password.

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  // checkov:skip=CKV_AZURE_109: network ACLs deny by default when useVnet puts the vault behind a private endpoint; without a VNet the app's outbound addresses are not fixed, so access is RBAC-only
  // checkov:skip=CKV_AZURE_189: public network access is Disabled when useVnet; cheap environments without a VNet keep it on, RBAC-only
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: tenant().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 90
    enablePurgeProtection: true
    publicNetworkAccess: publicNetworkAccess
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: publicNetworkAccess == 'Enabled' ? 'Allow' : 'Deny'
    }
  }
}

resource authSigningKeysSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(authSigningKeys)) {
  // checkov:skip=CKV_AZURE_41: no expiry on purpose: an expired secret breaks the app's Key Vault reference at the next restart; rotation is a runbook step (docs/operations.md)
  // checkov:skip=CKV_AZURE_114: contentType is set below; checkov does not read the properties of a conditional (`if`) resource
  parent: vault
  name: 'auth-signing-keys'
  properties: {
    value: authSigningKeys
    contentType: 'text/plain'
  }
}

resource claudeApiKeySecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(claudeApiKey)) {
  // checkov:skip=CKV_AZURE_41: no expiry on purpose: an expired secret breaks the app's Key Vault reference at the next restart; rotation is a runbook step (docs/operations.md)
  // checkov:skip=CKV_AZURE_114: contentType is set below; checkov does not read the properties of a conditional (`if`) resource
  parent: vault
  name: 'claude-api-key'
  properties: {
    value: claudeApiKey
    contentType: 'text/plain'
  }
}

resource googleClientSecretSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(googleClientSecret)) {
  // checkov:skip=CKV_AZURE_41: no expiry on purpose: an expired secret breaks the app's Key Vault reference at the next restart; rotation is a runbook step (docs/operations.md)
  // checkov:skip=CKV_AZURE_114: contentType is set below; checkov does not read the properties of a conditional (`if`) resource
  parent: vault
  name: 'google-client-secret'
  properties: {
    value: googleClientSecret
    contentType: 'text/plain'
  }
}

resource tilkoApiKeySecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(tilkoApiKey)) {
  // checkov:skip=CKV_AZURE_41: no expiry on purpose: an expired secret breaks the app's Key Vault reference at the next restart; rotation is a runbook step (docs/operations.md)
  // checkov:skip=CKV_AZURE_114: contentType is set below; checkov does not read the properties of a conditional (`if`) resource
  parent: vault
  name: 'tilko-api-key'
  properties: {
    value: tilkoApiKey
    contentType: 'text/plain'
  }
}

// Key Vault Secrets User for the app on each secret it reads, never on the vault: the vault also
// holds the break-glass `postgres-admin-password`, which the app must not read. A role assigned
// on a secret holds for all its versions, so a rotation by hand keeps it. The modules that write
// the other secrets (database-url, redis-url, notification-hub-connection) assign theirs the
// same way. Scope syntax: learn.microsoft.com/azure/key-vault/general/rbac-guide (assigning a
// role at secret scope).
var secretsUser = '4633458b-17de-408a-b874-0445c86b69e6' // Key Vault Secrets User

resource authSigningKeysReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(authSigningKeys)) {
  name: guid(vault.id, 'auth-signing-keys', appPrincipalId, secretsUser)
  scope: authSigningKeysSecret
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', secretsUser)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource claudeApiKeyReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(claudeApiKey)) {
  name: guid(vault.id, 'claude-api-key', appPrincipalId, secretsUser)
  scope: claudeApiKeySecret
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', secretsUser)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource googleClientSecretReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(googleClientSecret)) {
  name: guid(vault.id, 'google-client-secret', appPrincipalId, secretsUser)
  scope: googleClientSecretSecret
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', secretsUser)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource tilkoApiKeyReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(tilkoApiKey)) {
  name: guid(vault.id, 'tilko-api-key', appPrincipalId, secretsUser)
  scope: tilkoApiKeySecret
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', secretsUser)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Key Vault Secrets Officer for whoever provisions: rotating keys is a data-plane write.
resource deployerSecretsOfficer 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(deployerPrincipalId)) {
  name: guid(vault.id, deployerPrincipalId, 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7')
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7')
    principalId: deployerPrincipalId
    principalType: deployerPrincipalType
  }
}

resource diagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: vault
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

output id string = vault.id
output name string = vault.name
output uri string = vault.properties.vaultUri
