// Service Bus: the `events` topic the outbox relay publishes to (message id = event id, Subject =
// event type) and one subscription per consuming function with a filter on the Subject (the
// daily nudge run's plan and slice messages travel there too, so there is no queue). Delivery is
// retried up to maxDeliveryCount times, then dead-lettered; expired messages are dead-lettered
// too. Local (SAS) auth is off: the app's identity is Data Owner of the topic, no more.
//
// Why Owner and not Receiver + Sender: the scale controller sizes instances from the message
// counts of each subscription, which it reads as the trigger's identity; reading them
// is a manage-level right that Data Receiver lacks ("Azure Service Bus bindings for Azure
// Functions", identity-based connections, https://learn.microsoft.com/azure/azure-functions/functions-bindings-service-bus
// and "Event-driven scaling", https://learn.microsoft.com/azure/azure-functions/event-driven-scaling).
// Scoped to the topic (its subscriptions are under it), not the namespace.
param name string
param location string
param tags object
param skuName string
param maxDeliveryCount int
param appPrincipalId string
param logAnalyticsWorkspaceId string

@description('[{ name, function, subjects: [] }]: one subscription per Service Bus-triggered function.')
param subscriptions array

@allowed([
  'Enabled'
  'Disabled'
])
param publicNetworkAccess string

param topicName string = 'events'

// The Functions host renews locks for up to 5 minutes (host.json maxAutoLockRenewalDuration).
var lockDuration = 'PT5M'
var messageTtl = 'P14D'

resource namespace 'Microsoft.ServiceBus/namespaces@2022-10-01-preview' = {
  name: name
  location: location
  tags: tags
  sku: {
    name: skuName
    tier: skuName
    capacity: skuName == 'Premium' ? 1 : null
  }
  properties: {
    disableLocalAuth: true
    minimumTlsVersion: '1.2'
    publicNetworkAccess: publicNetworkAccess
  }
}

resource topic 'Microsoft.ServiceBus/namespaces/topics@2022-10-01-preview' = {
  parent: namespace
  name: topicName
  properties: {
    // The relay may publish an event twice (crash between send and mark); the message id is
    // the event id, so the broker drops the copy inside this window.
    requiresDuplicateDetection: true
    duplicateDetectionHistoryTimeWindow: 'PT10M'
    defaultMessageTimeToLive: messageTtl
    maxSizeInMegabytes: 1024
  }
}

resource topicSubscriptions 'Microsoft.ServiceBus/namespaces/topics/subscriptions@2022-10-01-preview' = [
  for s in subscriptions: {
    parent: topic
    name: s.name
    properties: {
      maxDeliveryCount: maxDeliveryCount
      lockDuration: lockDuration
      defaultMessageTimeToLive: messageTtl
      deadLetteringOnMessageExpiration: true
      deadLetteringOnFilterEvaluationExceptions: true
      requiresSession: false
    }
  }
]

// Replacing `$Default` (which matches everything) with a filter on the event type: the
// subscription receives exactly the subjects its function handles.
resource subjectFilters 'Microsoft.ServiceBus/namespaces/topics/subscriptions/rules@2022-10-01-preview' = [
  for (s, i) in subscriptions: {
    parent: topicSubscriptions[i]
    name: '$Default'
    properties: {
      filterType: 'SqlFilter'
      sqlFilter: {
        sqlExpression: 'sys.Label IN (\'${join(s.subjects, '\', \'')}\')'
      }
    }
  }
]

var dataOwner = '090c5cfd-751d-490a-894a-3ce6f1109419' // Azure Service Bus Data Owner

resource topicOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(topic.id, appPrincipalId, dataOwner)
  scope: topic
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', dataOwner)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource diagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: namespace
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

output id string = namespace.id
output name string = namespace.name
output fqdn string = '${namespace.name}.servicebus.windows.net'
