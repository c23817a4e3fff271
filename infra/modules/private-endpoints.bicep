// Private endpoints (useVnet) for the services the app reaches, each registered in its
// privatelink DNS zone linked to the VNet. Zones shared by several targets are created once.
param namePrefix string
param location string
param tags object
param subnetId string
param vnetId string

@description('[{ name, id, groupId, zone }]')
param targets array

@description('The distinct privatelink DNS zones of the targets.')
param zones array

resource dnsZones 'Microsoft.Network/privateDnsZones@2024-06-01' = [
  for zone in zones: {
    name: zone
    location: 'global'
    tags: tags
  }
]

resource dnsLinks 'Microsoft.Network/privateDnsZones/virtualNetworkLinks@2024-06-01' = [
  for (zone, i) in zones: {
    parent: dnsZones[i]
    name: 'vnet'
    location: 'global'
    properties: {
      registrationEnabled: false
      virtualNetwork: {
        id: vnetId
      }
    }
  }
]

resource endpoints 'Microsoft.Network/privateEndpoints@2024-05-01' = [
  for t in targets: {
    name: '${namePrefix}-${t.name}'
    location: location
    tags: tags
    properties: {
      subnet: {
        id: subnetId
      }
      privateLinkServiceConnections: [
        {
          name: t.name
          properties: {
            privateLinkServiceId: t.id
            groupIds: [
              t.groupId
            ]
          }
        }
      ]
    }
  }
]

resource zoneGroups 'Microsoft.Network/privateEndpoints/privateDnsZoneGroups@2024-05-01' = [
  for (t, i) in targets: {
    parent: endpoints[i]
    name: 'default'
    properties: {
      privateDnsZoneConfigs: [
        {
          name: replace(t.zone, '.', '-')
          properties: {
            privateDnsZoneId: resourceId('Microsoft.Network/privateDnsZones', t.zone)
          }
        }
      ]
    }
    dependsOn: [
      dnsZones
    ]
  }
]
