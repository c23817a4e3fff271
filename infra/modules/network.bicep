// Private networking: one VNet with a subnet for the app's outbound integration, a subnet
// delegated to PostgreSQL Flexible Server (private access, no public endpoint), a subnet for the
// private endpoints of Key Vault, storage, Redis and the messaging namespaces, and a subnet
// delegated to Azure Container Instances where the provision's migration runs
// (modules/migration.bicep): "Access a private virtual network from a Bicep deployment script",
// learn.microsoft.com/azure/azure-resource-manager/bicep/deployment-script-vnet (delegation
// Microsoft.ContainerInstance/containerGroups, service endpoint Microsoft.Storage for the
// script's storage account).
param name string
param nsgName string
param location string
param tags object
param logAnalyticsWorkspaceId string

@description('Flex Consumption integrates through Microsoft.App/environments, Premium through Microsoft.Web/serverFarms.')
param appSubnetDelegation string

param addressPrefix string = '10.60.0.0/16'
param appSubnetPrefix string = '10.60.1.0/24'
param postgresSubnetPrefix string = '10.60.2.0/24'
param privateEndpointSubnetPrefix string = '10.60.3.0/24'
param deploymentScriptSubnetPrefix string = '10.60.4.0/24'

var subnets = [
  {
    name: 'app'
    prefix: appSubnetPrefix
    delegation: appSubnetDelegation
    serviceEndpoints: []
  }
  {
    name: 'postgres'
    prefix: postgresSubnetPrefix
    delegation: 'Microsoft.DBforPostgreSQL/flexibleServers'
    serviceEndpoints: []
  }
  {
    name: 'private-endpoints'
    prefix: privateEndpointSubnetPrefix
    delegation: ''
    serviceEndpoints: []
  }
  {
    // The migration's container: it reaches PostgreSQL through the VNet, its script storage
    // through the service endpoint, and Microsoft Entra ID and mcr.microsoft.com (its image)
    // outbound, hence default outbound access kept explicitly on for this subnet alone.
    name: 'deployment-scripts'
    prefix: deploymentScriptSubnetPrefix
    delegation: 'Microsoft.ContainerInstance/containerGroups'
    serviceEndpoints: [
      {
        service: 'Microsoft.Storage'
      }
    ]
  }
]

// Inbound from inside the VNet only; the platform's defaults add the load balancer rule.
resource nsg 'Microsoft.Network/networkSecurityGroups@2024-05-01' = {
  name: nsgName
  location: location
  tags: tags
  properties: {
    securityRules: [
      {
        name: 'deny-internet-inbound'
        properties: {
          priority: 4000
          direction: 'Inbound'
          access: 'Deny'
          protocol: '*'
          sourceAddressPrefix: 'Internet'
          sourcePortRange: '*'
          destinationAddressPrefix: '*'
          destinationPortRange: '*'
        }
      }
    ]
  }
}

resource vnet 'Microsoft.Network/virtualNetworks@2024-05-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    addressSpace: {
      addressPrefixes: [
        addressPrefix
      ]
    }
    subnets: [
      for s in subnets: {
        name: s.name
        properties: {
          addressPrefix: s.prefix
          networkSecurityGroup: {
            id: nsg.id
          }
          privateEndpointNetworkPolicies: 'Disabled'
          serviceEndpoints: s.serviceEndpoints
          defaultOutboundAccess: s.name == 'deployment-scripts' ? true : null
          delegations: empty(s.delegation) ? [] : [
            {
              name: replace(s.delegation, '/', '.')
              properties: {
                serviceName: s.delegation
              }
            }
          ]
        }
      }
    ]
  }
}

// PostgreSQL private access resolves the server's name through this zone.
resource postgresDns 'Microsoft.Network/privateDnsZones@2024-06-01' = {
  name: '${uniqueString(resourceGroup().id)}.private.postgres.database.azure.com'
  location: 'global'
  tags: tags
}

resource postgresDnsLink 'Microsoft.Network/privateDnsZones/virtualNetworkLinks@2024-06-01' = {
  parent: postgresDns
  name: 'vnet'
  location: 'global'
  properties: {
    registrationEnabled: false
    virtualNetwork: {
      id: vnet.id
    }
  }
}

// Security events and rule counters of the NSG, and the VNet's own logs and metrics.
resource nsgDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: nsg
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

resource vnetDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: vnet
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

output vnetId string = vnet.id
output appSubnetId string = vnet.properties.subnets[0].id
output postgresSubnetId string = vnet.properties.subnets[1].id
output privateEndpointSubnetId string = vnet.properties.subnets[2].id
output deploymentScriptSubnetId string = vnet.properties.subnets[3].id
output postgresDnsZoneId string = postgresDns.id
