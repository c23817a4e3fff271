// The app's user-assigned managed identity: every Azure call the app makes (Key Vault references,
// storage, Service Bus, Event Hubs, App Insights ingestion) authenticates as this identity.
param name string
param location string
param tags object

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: name
  location: location
  tags: tags
}

output id string = identity.id
output name string = identity.name
output principalId string = identity.properties.principalId
output clientId string = identity.properties.clientId
