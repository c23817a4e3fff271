// Alert rules (docs/operations.md "Dashboards and alerts" says what to do when each fires):
// 5xx rate of the API, dead-lettered Service Bus messages, the Claude circuit breaker opening, a
// run of refused Claude calls (retired model, refusals, wrong key),
// PostgreSQL CPU and storage.
param location string
param tags object
param actionGroupName string
param alertEmail string
param functionAppId string
param applicationInsightsId string
param logAnalyticsWorkspaceId string
param serviceBusNamespaceId string
param postgresServerId string

@description('Premium only: the Http5xx platform metric exists on App Service plans, not reliably on a Flex Consumption site; there the log-based 5xx-rate alert covers it.')
param isPremium bool

@description('Percentage of requests answered 5xx over 5 minutes that raises the alert.')
param fiveXxRatePercent int = 5

resource actionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = if (!empty(alertEmail)) {
  name: actionGroupName
  location: 'Global'
  tags: tags
  properties: {
    groupShortName: 'healthsync'
    enabled: true
    emailReceivers: [
      {
        name: 'operators'
        emailAddress: alertEmail
        useCommonAlertSchema: true
      }
    ]
  }
}

var actions = empty(alertEmail) ? [] : [
  {
    actionGroupId: actionGroup.id
  }
]
var actionGroupIds = empty(alertEmail) ? [] : [
  actionGroup.id
]

// 5xx rate: requests the app answered 5xx, as a share of all requests (at least 20 in the window
// so one failure at 3 a.m. does not page anyone).
resource fiveXx 'Microsoft.Insights/scheduledQueryRules@2023-03-15-preview' = {
  name: 'healthsync-5xx-rate'
  location: location
  tags: tags
  properties: {
    displayName: 'HealthSync API 5xx rate above ${fiveXxRatePercent}%'
    severity: 1
    enabled: true
    scopes: [
      applicationInsightsId
    ]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT5M'
    criteria: {
      allOf: [
        {
          query: 'requests | summarize total = count(), failed = countif(toint(resultCode) >= 500) | where total >= 20 | extend ratePercent = 100.0 * failed / total | where ratePercent > ${fiveXxRatePercent}'
          timeAggregation: 'Count'
          operator: 'GreaterThan'
          threshold: 0
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    actions: {
      actionGroups: actionGroupIds
    }
  }
}

// Claude breaker: src/platform/resilience.rs logs, at WARN, a JSON line whose fields carry
// event = "breaker_open" and dependency = "claude". The host forwards the handler's stdout to
// Application Insights as traces.
resource claudeBreaker 'Microsoft.Insights/scheduledQueryRules@2023-03-15-preview' = {
  name: 'healthsync-claude-breaker-open'
  location: location
  tags: tags
  properties: {
    displayName: 'HealthSync: Claude circuit breaker opened'
    severity: 2
    enabled: true
    scopes: [
      applicationInsightsId
    ]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT5M'
    criteria: {
      allOf: [
        {
          query: 'traces | where message has "breaker_open" and message has "claude"'
          timeAggregation: 'Count'
          operator: 'GreaterThan'
          threshold: 0
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    actions: {
      actionGroups: actionGroupIds
    }
  }
}

// Claude refusing us: every AI answer then comes from the offline coach, which the app's 200s
// hide; a run of them pages. src/platform/ai/mod.rs logs each such outcome as one JSON line whose
// field ai_outcome names it (src/platform/ai/outcome.rs lists them; tests/app/intelligence/alerts.rs
// holds this query to that list and to the lines the client writes):
// - not_found: a 404 not_found_error from the Messages API (the model is retired or unknown);
// - model_unavailable: a call not sent because the model is known to be gone (one line a minute
//   per instance at most: an instance asked at least once a minute writes one at least every two
//   minutes, 7 or more in any 15);
// - refusal: the model declined to answer (stop_reason refusal);
// - request_refused: a 4xx the API will not retry (a wrong key, a breaking API change).
resource claudeRefused 'Microsoft.Insights/scheduledQueryRules@2023-03-15-preview' = {
  name: 'healthsync-claude-refused'
  location: location
  tags: tags
  properties: {
    displayName: 'HealthSync: Claude refuses the configured model or requests'
    severity: 1
    enabled: true
    scopes: [
      applicationInsightsId
    ]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT15M'
    criteria: {
      allOf: [
        {
          query: 'traces | where message has "claude" | extend ai_outcome = extract(\'"ai_outcome":"([a-z_]+)"\', 1, message) | where ai_outcome in ("model_unavailable", "not_found", "refusal", "request_refused")'
          timeAggregation: 'Count'
          operator: 'GreaterThanOrEqual'
          threshold: 3
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    actions: {
      actionGroups: actionGroupIds
    }
  }
}

// Notification Hubs refusing our configuration (401 a bad SAS key, 404 a wrong or recreated hub,
// 410 a deleted hub): every push waits and goes to the dead letters after its redeliveries; no
// device data is touched. Each instance logs the line once until the hub works again
// (src/motivator/push/mod.rs). Runbook: "Push notifications (Notification Hubs)".
resource notificationHubsMisconfigured 'Microsoft.Insights/scheduledQueryRules@2023-03-15-preview' = {
  name: 'healthsync-notification-hubs-misconfigured'
  location: location
  tags: tags
  properties: {
    displayName: 'HealthSync: Notification Hubs refuses the configured hub or key'
    severity: 1
    enabled: true
    scopes: [
      applicationInsightsId
    ]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT15M'
    criteria: {
      allOf: [
        {
          query: 'traces | where message has "notification_hubs_misconfigured"'
          timeAggregation: 'Count'
          operator: 'GreaterThan'
          threshold: 0
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    actions: {
      actionGroups: actionGroupIds
    }
  }
}

// Any message dead-lettered in the topic subscriptions or the nudge queue: see the runbook's
// "Replay dead letters".
resource deadLetters 'Microsoft.Insights/metricAlerts@2018-03-01' = {
  name: 'healthsync-service-bus-dead-letters'
  location: 'global'
  tags: tags
  properties: {
    description: 'Messages were dead-lettered in Service Bus (max delivery count reached, or expired).'
    severity: 2
    enabled: true
    scopes: [
      serviceBusNamespaceId
    ]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT15M'
    criteria: {
      'odata.type': 'Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria'
      allOf: [
        {
          criterionType: 'StaticThresholdCriterion'
          name: 'dead-lettered'
          metricNamespace: 'Microsoft.ServiceBus/namespaces'
          metricName: 'DeadletteredMessages'
          dimensions: [
            {
              name: 'EntityName'
              operator: 'Include'
              values: [
                '*'
              ]
            }
          ]
          operator: 'GreaterThan'
          threshold: 0
          timeAggregation: 'Maximum'
        }
      ]
    }
    actions: actions
  }
}

var postgresMetrics = [
  {
    name: 'healthsync-postgres-cpu'
    metric: 'cpu_percent'
    threshold: 80
    description: 'PostgreSQL CPU above 80% for 15 minutes.'
  }
  {
    name: 'healthsync-postgres-storage'
    metric: 'storage_percent'
    threshold: 85
    description: 'PostgreSQL storage above 85% (auto-grow is on; check growth and cost).'
  }
]

resource postgresAlerts 'Microsoft.Insights/metricAlerts@2018-03-01' = [
  for m in postgresMetrics: {
    name: m.name
    location: 'global'
    tags: tags
    properties: {
      description: m.description
      severity: 2
      enabled: true
      scopes: [
        postgresServerId
      ]
      evaluationFrequency: 'PT5M'
      windowSize: 'PT15M'
      criteria: {
        'odata.type': 'Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria'
        allOf: [
          {
            criterionType: 'StaticThresholdCriterion'
            name: m.metric
            metricNamespace: 'Microsoft.DBforPostgreSQL/flexibleServers'
            metricName: m.metric
            operator: 'GreaterThan'
            threshold: m.threshold
            timeAggregation: 'Average'
          }
        ]
      }
      actions: actions
    }
  }
]

// Function app HTTP 5xx count as a metric too: it fires even when the log pipeline lags. Only on
// Premium: Flex Consumption lists its own, smaller metric set ("Monitor Azure Functions data
// reference", https://learn.microsoft.com/azure/azure-functions/monitor-functions-reference),
// and an alert on a metric the resource lacks fails the deployment.
resource http5xx 'Microsoft.Insights/metricAlerts@2018-03-01' = if (isPremium) {
  name: 'healthsync-http-5xx'
  location: 'global'
  tags: tags
  properties: {
    description: 'The function app answered more than 10 requests with 5xx in 5 minutes.'
    severity: 2
    enabled: true
    scopes: [
      functionAppId
    ]
    evaluationFrequency: 'PT1M'
    windowSize: 'PT5M'
    criteria: {
      'odata.type': 'Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria'
      allOf: [
        {
          criterionType: 'StaticThresholdCriterion'
          name: 'http5xx'
          metricNamespace: 'Microsoft.Web/sites'
          metricName: 'Http5xx'
          operator: 'GreaterThan'
          threshold: 10
          timeAggregation: 'Total'
        }
      ]
    }
    actions: actions
  }
}

output logAnalyticsWorkspaceId string = logAnalyticsWorkspaceId
