//! What `azd up` and the Functions host would reject, and least privilege (issue 12), checked on
//! the Bicep's syntax tree: each test reads the resources a module declares and the values it
//! sends, so a revert of the fix fails here before it fails in a subscription.

use std::collections::{BTreeMap, BTreeSet};

use tree_sitter::{Node, Tree};

use crate::infra::{parse, properties, read, root, text, unquote, variable};

/// A `resource` declaration: its symbolic name, type, `if (...)` condition and body object.
struct Resource<'t> {
    name: String,
    kind: String,
    condition: Option<String>,
    body: Node<'t>,
}

fn children<'t>(node: Node<'t>) -> Vec<Node<'t>> {
    let mut cursor = node.walk();
    node.named_children(&mut cursor).collect()
}

fn resources<'t>(tree: &'t Tree, source: &str) -> Vec<Resource<'t>> {
    let mut out = Vec::new();
    for decl in children(tree.root_node()).into_iter().filter(|n| n.kind() == "resource_declaration") {
        let parts = children(decl);
        let (mut condition, mut body) = (None, None);
        for part in &parts[2..] {
            match part.kind() {
                "object" => body = Some(*part),
                "if_statement" => {
                    let inner = children(*part);
                    condition = Some(text(inner[0], source).to_string());
                    body = inner.iter().find(|n| n.kind() == "object").copied();
                }
                "for_statement" => body = part.child_by_field_name("body"),
                _ => {}
            }
        }
        out.push(Resource {
            name: text(parts[0], source).to_string(),
            kind: unquote(text(parts[1], source)),
            condition,
            body: body.unwrap_or_else(|| panic!("resource {} has no body", text(parts[0], source))),
        });
    }
    out
}

/// A property at `path` (`properties.siteConfig.ftpsState`) of an object, as source text.
fn at<'t>(object: Node<'t>, source: &str, path: &str) -> Option<Node<'t>> {
    let mut node = object;
    for key in path.split('.') {
        node = *properties(node, source).get(key)?;
    }
    Some(node)
}

fn module(name: &str) -> (String, Tree) {
    let source = read(&root().join("infra/modules").join(name));
    let tree = parse(&source);
    (source, tree)
}

fn main_bicep() -> (String, Tree) {
    let source = read(&root().join("infra/main.bicep"));
    let tree = parse(&source);
    (source, tree)
}

fn find<'a, 't>(all: &'a [Resource<'t>], name: &str) -> &'a Resource<'t> {
    all.iter().find(|r| r.name == name).unwrap_or_else(|| panic!("no resource `{name}`"))
}

/// The symbolic names a resource's `dependsOn` lists.
fn depends_on(r: &Resource, source: &str) -> BTreeSet<String> {
    at(r.body, source, "dependsOn")
        .map(|a| children(a).into_iter().map(|n| text(n, source).to_string()).collect())
        .unwrap_or_default()
}

/// The arguments main.bicep passes to `module <name>`.
fn module_params(tree: &Tree, source: &str, name: &str) -> BTreeMap<String, String> {
    let decl = children(tree.root_node())
        .into_iter()
        .filter(|n| n.kind() == "module_declaration")
        .find(|n| text(children(*n)[0], source) == name)
        .unwrap_or_else(|| panic!("main.bicep has no module {name}"));
    let body = children(decl)
        .into_iter()
        .find_map(|n| match n.kind() {
            "object" => Some(n),
            "if_statement" => children(n).into_iter().find(|c| c.kind() == "object"),
            _ => None,
        })
        .unwrap();
    let params = at(body, source, "params").unwrap();
    properties(params, source).into_iter().map(|(k, v)| (k, text(v, source).to_string())).collect()
}

#[test]
fn ftps_state_is_sent_only_on_premium_because_flex_rejects_it() {
    let (source, tree) = module("functionapp.bicep");
    let all = resources(&tree, &source);
    let site = find(&all, "site");
    let ftps = at(site.body, &source, "properties.siteConfig.ftpsState").expect("the site sets ftpsState");
    assert_eq!(text(ftps, &source), "isFlex ? null : 'Disabled'");
    // The staging slot exists only on Premium, where the property is accepted.
    assert_eq!(find(&all, "staging").condition.as_deref(), Some("(!isFlex)"));
}

#[test]
fn postgres_children_are_created_one_after_another_never_in_parallel() {
    let (source, tree) = module("postgres.bicep");
    let all = resources(&tree, &source);
    // Everything that changes the server after it exists: its children and the replica.
    let children: Vec<&Resource> = all
        .iter()
        .filter(|r| {
            r.kind.starts_with("Microsoft.DBforPostgreSQL/flexibleServers/")
                || (r.kind.starts_with("Microsoft.DBforPostgreSQL/flexibleServers@") && r.name != "server")
        })
        .collect();
    assert!(children.len() >= 6, "{:?}", children.iter().map(|r| &r.name).collect::<Vec<_>>());
    let deps: BTreeMap<&str, BTreeSet<String>> =
        children.iter().map(|r| (r.name.as_str(), depends_on(r, &source))).collect();
    // The chain: exactly one child starts it, every other waits for exactly one other child,
    // and none is waited for twice. Then walking from the start reaches all of them.
    let starts: Vec<&str> = deps.iter().filter(|(_, d)| d.is_empty()).map(|(n, _)| *n).collect();
    assert_eq!(starts, ["database"], "only the database may start right after the server: {deps:?}");
    let mut next: BTreeMap<&str, &str> = BTreeMap::new();
    for (name, d) in &deps {
        if d.is_empty() {
            continue;
        }
        assert_eq!(d.len(), 1, "{name} must wait for exactly the child before it: {d:?}");
        let before = d.iter().next().unwrap().as_str();
        assert!(deps.contains_key(before), "{name} waits for {before}, which is not a server child");
        assert!(
            next.insert(before, name).is_none(),
            "two children wait for {before}: they would run at once"
        );
    }
    let mut walked = vec!["database"];
    while let Some(n) = next.get(walked.last().unwrap()) {
        walked.push(n);
    }
    assert_eq!(walked.len(), deps.len(), "the chain {walked:?} misses some of {deps:?}");
}

#[test]
fn azd_is_required_and_pinned_to_a_release_that_keeps_the_run_bit() {
    let azure = read(&root().join("azure.yaml"));
    assert!(
        azure.contains("requiredVersions:\n  azd: \">= 1.26.0\""),
        "azure.yaml must require azd >= 1.26.0"
    );
    let version = |file: &str| -> (u32, u32, u32) {
        let content = read(&root().join(file));
        let line = content
            .lines()
            .find(|l| l.trim_start().starts_with("AZD_VERSION:"))
            .unwrap_or_else(|| panic!("{file} pins no AZD_VERSION"));
        let v: Vec<u32> =
            line.split(':').nth(1).unwrap().trim().split('.').map(|p| p.parse().unwrap()).collect();
        (v[0], v[1], v[2])
    };
    let github = version(".github/workflows/deploy.yml");
    let devops = version("azure-pipelines.yml");
    assert_eq!(github, devops, "both pipelines deploy with the same azd");
    assert!(github >= (1, 26, 0), "azd {github:?} drops the executable bit when zipping");
    assert!(read(&root().join(".github/workflows/deploy.yml")).contains("version: ${{ env.AZD_VERSION }}"));
    assert!(
        read(&root().join("azure-pipelines.yml"))
            .contains("install-azd.sh | bash -s -- --version \"$(AZD_VERSION)\"")
    );
}

#[test]
fn premium_runs_its_package_from_a_private_blob_read_with_the_identity_per_slot() {
    let (source, tree) = module("functionapp.bicep");
    let premium = properties(variable(&tree, &source, "premiumSettings").unwrap(), &source);
    assert_eq!(
        premium.get("WEBSITE_RUN_FROM_PACKAGE_BLOB_MI_RESOURCE_ID").map(|v| text(*v, &source)),
        Some("identityId")
    );
    assert!(
        !premium.contains_key("WEBSITE_RUN_FROM_PACKAGE"),
        "`WEBSITE_RUN_FROM_PACKAGE=1` needs the Azure Files content share, which this app has not"
    );
    for (var, param) in [("productionPackage", "packageUrl"), ("stagingPackage", "stagingPackageUrl")] {
        let value = text(variable(&tree, &source, var).unwrap(), &source);
        assert!(value.contains(&format!("WEBSITE_RUN_FROM_PACKAGE: {param}")), "{var}: {value}");
    }
    let all = resources(&tree, &source);
    let settings = text(at(find(&all, "settings").body, &source, "properties").unwrap(), &source);
    assert!(settings.contains("productionPackage"), "{settings}");
    let staging = text(at(find(&all, "stagingSettings").body, &source, "properties").unwrap(), &source);
    assert!(staging.contains("stagingPackage") && !staging.contains("productionPackage"), "{staging}");
    // A provision keeps what the slots run: the URLs are azd parameters the deploy script fills.
    let parameters = read(&root().join("infra/main.parameters.json"));
    assert!(
        parameters.contains("${HEALTHSYNC_PACKAGE_URL}")
            && parameters.contains("${HEALTHSYNC_STAGING_PACKAGE_URL}")
    );
    let deploy = read(&root().join("scripts/deploy-azure"));
    assert!(deploy.contains("WEBSITE_RUN_FROM_PACKAGE=$package_url") && deploy.contains("--slot staging"));
}

#[test]
fn the_http5xx_metric_alert_exists_only_on_premium() {
    let (source, tree) = module("alerts.bicep");
    let all = resources(&tree, &source);
    assert_eq!(find(&all, "http5xx").condition.as_deref(), Some("(isPremium)"));
    assert!(find(&all, "fiveXx").condition.is_none(), "the log-based 5xx alert covers Flex");
    let (main, tree) = main_bicep();
    assert_eq!(
        module_params(&tree, &main, "alerts").get("isPremium").map(String::as_str),
        Some("hostingPlan == 'Premium'")
    );
}

#[test]
fn the_app_owns_the_topic_and_the_queue_and_nothing_else_in_service_bus() {
    let (source, tree) = module("servicebus.bicep");
    let all = resources(&tree, &source);
    let roles: Vec<&Resource> =
        all.iter().filter(|r| r.kind.starts_with("Microsoft.Authorization/roleAssignments")).collect();
    let scopes: BTreeSet<&str> =
        roles.iter().map(|r| text(at(r.body, &source, "scope").unwrap(), &source)).collect();
    assert_eq!(
        scopes,
        BTreeSet::from(["nudgeQueue", "topic"]),
        "Data Owner on the two entities, not the namespace"
    );
    assert!(
        source.contains("var dataOwner = '090c5cfd-751d-490a-894a-3ce6f1109419'"),
        "Azure Service Bus Data Owner"
    );
    for r in roles {
        let role = text(at(r.body, &source, "properties.roleDefinitionId").unwrap(), &source);
        assert!(role.contains("dataOwner"), "{}: {role}", r.name);
    }
}

#[test]
fn traces_are_never_sampled_away_from_the_alerts_that_count_them() {
    let host: serde_json::Value = serde_json::from_str(&read(&root().join("host.json"))).unwrap();
    let excluded =
        host["logging"]["applicationInsights"]["samplingSettings"]["excludedTypes"].as_str().unwrap();
    assert!(excluded.split(';').any(|t| t == "Trace"), "excludedTypes = {excluded}");
    let alerts = read(&root().join("infra/modules/alerts.bicep"));
    assert!(alerts.contains("query: 'traces |"), "the breaker alert reads traces");
}

#[test]
fn only_the_data_account_keeps_versions_and_a_change_feed_no_longer_than_erasure_allows() {
    let (source, tree) = module("storage.bicep");
    let all = resources(&tree, &source);
    let blob = find(&all, "blobService");
    let at_blob = |p: &str| text(at(blob.body, &source, p).unwrap(), &source).to_string();
    assert_eq!(at_blob("properties.isVersioningEnabled"), "dataAccount");
    assert_eq!(at_blob("properties.changeFeed.enabled"), "dataAccount");
    assert_eq!(at_blob("properties.changeFeed.retentionInDays"), "dataAccount ? softDeleteDays : null");
    assert_eq!(find(&all, "lifecycle").condition.as_deref(), Some("(dataAccount)"));
    let (main, tree) = main_bicep();
    assert_eq!(
        module_params(&tree, &main, "hostStorage").get("dataAccount").map(String::as_str),
        Some("false")
    );
    assert_eq!(
        module_params(&tree, &main, "dataStorage").get("dataAccount").map(String::as_str),
        Some("true")
    );
    let runbook = read(&root().join("docs/operations.md"));
    assert!(runbook.contains("softDeleteDays + 1"), "the erasure promise the retention is held to");
}

#[test]
fn the_app_reaches_postgres_and_redis_as_its_identity_without_a_password_or_key() {
    let (source, tree) = module("redis.bicep");
    let all = resources(&tree, &source);
    let db = find(&all, "database");
    assert_eq!(
        text(at(db.body, &source, "properties.accessKeysAuthentication").unwrap(), &source),
        "'Disabled'"
    );
    let policy = all
        .iter()
        .find(|r| r.kind.starts_with("Microsoft.Cache/redisEnterprise/databases/accessPolicyAssignments"))
        .expect("an access-policy assignment");
    assert_eq!(
        text(at(policy.body, &source, "properties.user.objectId").unwrap(), &source),
        "appPrincipalId"
    );
    assert!(!source.contains("listKeys"), "no key is read, so none can leak");

    let (source, tree) = module("functionapp.bicep");
    let settings = properties(variable(&tree, &source, "deploymentSettings").unwrap(), &source);
    let value = |k: &str| settings.get(k).map(|v| text(*v, &source).to_string());
    assert_eq!(value("DATABASE_AUTH").as_deref(), Some("'entra'"));
    assert_eq!(value("REDIS_AUTH").as_deref(), Some("'entra'"));
    assert_eq!(value("REDIS_USERNAME").as_deref(), Some("identityPrincipalId"));

    let (source, tree) = module("postgres.bicep");
    let all = resources(&tree, &source);
    let url = text(at(find(&all, "databaseUrlSecret").body, &source, "properties.value").unwrap(), &source);
    assert!(!url.contains("adminPassword") && !url.contains("administratorLogin"), "DATABASE_URL: {url}");
    assert!(url.contains("appIdentityName") && url.contains("sslmode=verify-full"), "{url}");
}

#[test]
fn production_is_private_by_default() {
    let (source, tree) = main_bicep();
    assert_eq!(
        text(variable(&tree, &source, "isProduction").unwrap(), &source),
        "startsWith(toLower(environmentName), 'prod')"
    );
    assert_eq!(
        text(variable(&tree, &source, "privateNetworking").unwrap(), &source),
        "useVnet || isProduction"
    );
    assert_eq!(
        text(variable(&tree, &source, "effectiveServiceBusSku").unwrap(), &source),
        "privateNetworking ? 'Premium' : serviceBusSku"
    );
    let after_decl = source.split("var effectiveServiceBusSku").nth(1).unwrap();
    assert!(!after_decl.contains("useVnet"), "every switch reads privateNetworking, not useVnet");
    let pg = module_params(&tree, &source, "postgres");
    assert_eq!(
        pg.get("delegatedSubnetId").map(String::as_str),
        Some("privateNetworking ? network.outputs.postgresSubnetId : ''")
    );
    let (pg_source, pg_tree) = module("postgres.bicep");
    let all = resources(&pg_tree, &pg_source);
    assert_eq!(
        find(&all, "allowAzure").condition.as_deref(),
        Some("(!privateAccess)"),
        "no 0.0.0.0 rule when private"
    );
}

#[test]
fn every_resource_the_readme_says_logs_has_a_diagnostic_setting() {
    let expect = [
        ("eventhubs.bicep", "namespace"),
        ("redis.bicep", "cluster"),
        ("redis.bicep", "database"),
        ("storage.bicep", "blobService"),
        ("storage.bicep", "queueService"),
        ("storage.bicep", "tableService"),
        ("servicebus.bicep", "namespace"),
        ("postgres.bicep", "server"),
        ("keyvault.bicep", "vault"),
        ("functionapp.bicep", "site"),
    ];
    for (file, target) in expect {
        let (source, tree) = module(file);
        let found = resources(&tree, &source).into_iter().any(|r| {
            r.kind.starts_with("Microsoft.Insights/diagnosticSettings")
                && at(r.body, &source, "scope").is_some_and(|s| text(s, &source) == target)
                && at(r.body, &source, "properties.workspaceId").is_some()
        });
        assert!(found, "{file}: no diagnostic setting scoped to `{target}`");
    }
}

#[test]
fn every_parameter_of_main_bicep_is_an_azd_parameter() {
    let (source, tree) = main_bicep();
    let params: BTreeSet<String> = children(tree.root_node())
        .into_iter()
        .filter(|n| n.kind() == "parameter_declaration")
        .map(|n| text(children(n)[0], &source).to_string())
        .collect();
    assert!(params.contains("redisSku") && params.contains("postgresReplicaLocation"), "{params:?}");
    let file: serde_json::Value =
        serde_json::from_str(&read(&root().join("infra/main.parameters.json"))).unwrap();
    let given: BTreeSet<String> = file["parameters"].as_object().unwrap().keys().cloned().collect();
    let missing: Vec<_> = params.difference(&given).collect();
    assert!(missing.is_empty(), "no azd environment variable reaches {missing:?}");
    let unknown: Vec<_> = given.difference(&params).collect();
    assert!(unknown.is_empty(), "main.parameters.json names parameters main.bicep lacks: {unknown:?}");
}
