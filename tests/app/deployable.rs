//! What `azd up` and the Functions host would reject, and least privilege (issue 12), checked on
//! the Bicep's syntax tree: each test reads the resources a module declares and the values it
//! sends, so a revert of the fix fails here before it fails in a subscription.

use std::collections::{BTreeMap, BTreeSet};

use tree_sitter::{Node, Tree};

use crate::infra::{parse, properties, read, root, text, unquote, variable};

/// A `resource` declaration: its symbolic name, type, `if (...)` condition and body object, and
/// whether it only refers to a resource that exists (`existing`).
pub(crate) struct Resource<'t> {
    pub(crate) name: String,
    pub(crate) kind: String,
    pub(crate) condition: Option<String>,
    pub(crate) body: Node<'t>,
    pub(crate) existing: bool,
}

pub(crate) fn children<'t>(node: Node<'t>) -> Vec<Node<'t>> {
    let mut cursor = node.walk();
    node.named_children(&mut cursor).collect()
}

pub(crate) fn resources<'t>(tree: &'t Tree, source: &str) -> Vec<Resource<'t>> {
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
        let head = &source[decl.start_byte()..body.map_or(decl.end_byte(), |b| b.start_byte())];
        out.push(Resource {
            name: text(parts[0], source).to_string(),
            kind: unquote(text(parts[1], source)),
            condition,
            body: body.unwrap_or_else(|| panic!("resource {} has no body", text(parts[0], source))),
            existing: head.contains("' existing ="),
        });
    }
    out
}

/// A property at `path` (`properties.siteConfig.ftpsState`) of an object, as source text.
pub(crate) fn at<'t>(object: Node<'t>, source: &str, path: &str) -> Option<Node<'t>> {
    let mut node = object;
    for key in path.split('.') {
        node = *properties(node, source).get(key)?;
    }
    Some(node)
}

pub(crate) fn module(name: &str) -> (String, Tree) {
    let source = read(&root().join("infra/modules").join(name));
    let tree = parse(&source);
    (source, tree)
}

pub(crate) fn main_bicep() -> (String, Tree) {
    let source = read(&root().join("infra/main.bicep"));
    let tree = parse(&source);
    (source, tree)
}

pub(crate) fn find<'a, 't>(all: &'a [Resource<'t>], name: &str) -> &'a Resource<'t> {
    all.iter().find(|r| r.name == name).unwrap_or_else(|| panic!("no resource `{name}`"))
}

/// The symbolic names a resource's `dependsOn` lists.
pub(crate) fn depends_on(r: &Resource, source: &str) -> BTreeSet<String> {
    at(r.body, source, "dependsOn")
        .map(|a| children(a).into_iter().map(|n| text(n, source).to_string()).collect())
        .unwrap_or_default()
}

/// The arguments main.bicep passes to `module <name>`.
pub(crate) fn module_params(tree: &Tree, source: &str, name: &str) -> BTreeMap<String, String> {
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

/// The conditions left out, and each resource present with everything it waits for.
type Ordering = (BTreeSet<String>, BTreeMap<String, BTreeSet<String>>);

/// For every way the conditional resources among `names` can be left out (each distinct `if`
/// condition on or off), the ordering ARM sees: a `dependsOn` naming a resource that is left out
/// is dropped, not passed on to what that resource waited for. Returns, per combination, each
/// present resource with every resource it transitively waits for.
fn orderings_under_every_condition(all: &[&Resource], source: &str) -> Vec<Ordering> {
    let conditions: Vec<String> =
        all.iter().filter_map(|r| r.condition.clone()).collect::<BTreeSet<_>>().into_iter().collect();
    let mut out = Vec::new();
    for mask in 0..(1u32 << conditions.len()) {
        let off: BTreeSet<&String> =
            conditions.iter().enumerate().filter(|(i, _)| mask & (1 << i) != 0).map(|(_, c)| c).collect();
        let present: BTreeSet<String> = all
            .iter()
            .filter(|r| r.condition.as_ref().is_none_or(|c| !off.contains(c)))
            .map(|r| r.name.clone())
            .collect();
        let direct: BTreeMap<String, BTreeSet<String>> = all
            .iter()
            .filter(|r| present.contains(&r.name))
            .map(|r| (r.name.clone(), depends_on(r, source).intersection(&present).cloned().collect()))
            .collect();
        let mut closure = direct.clone();
        loop {
            let mut grew = false;
            for name in present.iter() {
                let reach: BTreeSet<String> =
                    closure[name].iter().flat_map(|d| closure[d].iter().cloned()).collect();
                let entry = closure.get_mut(name).unwrap();
                let before = entry.len();
                entry.extend(reach);
                grew |= entry.len() > before;
            }
            if !grew {
                break;
            }
        }
        out.push((off.into_iter().cloned().collect(), closure));
    }
    out
}

#[test]
fn postgres_children_stay_one_after_another_whichever_conditional_ones_are_left_out() {
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
    assert!(
        children.iter().filter(|r| r.condition.is_some()).count() >= 3,
        "the firewall rule, the deployer's Entra admin and the replica are conditional"
    );
    let combinations = orderings_under_every_condition(&children, &source);
    assert!(combinations.len() >= 8);
    for (off, waits_for) in combinations {
        // One line: of any two children present, one waits (through others) for the other.
        let names: Vec<&String> = waits_for.keys().collect();
        for (i, a) in names.iter().enumerate() {
            for b in &names[i + 1..] {
                assert!(
                    waits_for[*a].contains(*b) || waits_for[*b].contains(*a),
                    "with {off:?} left out, {a} and {b} would be sent to the server at once: {waits_for:?}"
                );
            }
        }
        let first: Vec<&str> =
            names.iter().filter(|n| waits_for[**n].is_empty()).map(|n| n.as_str()).collect();
        assert_eq!(first, ["database"], "with {off:?} left out the database must come first");
    }
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
fn the_app_owns_the_events_topic_and_nothing_else_in_service_bus() {
    let (source, tree) = module("servicebus.bicep");
    let all = resources(&tree, &source);
    let roles: Vec<&Resource> =
        all.iter().filter(|r| r.kind.starts_with("Microsoft.Authorization/roleAssignments")).collect();
    let scopes: BTreeSet<&str> =
        roles.iter().map(|r| text(at(r.body, &source, "scope").unwrap(), &source)).collect();
    assert_eq!(scopes, BTreeSet::from(["topic"]), "Data Owner on the topic, not the namespace");
    assert!(
        source.contains("var dataOwner = '090c5cfd-751d-490a-894a-3ce6f1109419'"),
        "Azure Service Bus Data Owner"
    );
    for r in roles {
        let role = text(at(r.body, &source, "properties.roleDefinitionId").unwrap(), &source);
        assert!(role.contains("dataOwner"), "{}: {role}", r.name);
    }
    // The unused nudge-batch queue is gone, with its Data Owner assignment.
    let queues: Vec<&str> = all
        .iter()
        .filter(|r| r.kind.starts_with("Microsoft.ServiceBus/namespaces/queues"))
        .map(|r| r.name.as_str())
        .collect();
    assert!(queues.is_empty(), "no code reads a queue: {queues:?}");
    assert!(!source.contains("nudge-batch"));
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

/// A `param` declaration: its type, default (source text) and `@allowed` values.
pub(crate) struct Param {
    pub(crate) kind: String,
    pub(crate) default: Option<String>,
    pub(crate) allowed: Option<Vec<String>>,
    pub(crate) secure: bool,
}

pub(crate) fn params(tree: &Tree, source: &str) -> BTreeMap<String, Param> {
    let mut out = BTreeMap::new();
    let mut decorators: Vec<Node> = Vec::new();
    for node in children(tree.root_node()) {
        match node.kind() {
            "decorators" => decorators.push(node),
            "parameter_declaration" => {
                let parts = children(node);
                let secure = decorators.iter().any(|d| text(*d, source).contains("@secure()"));
                let allowed = decorators.drain(..).flat_map(|d| children(d)).find_map(|d| {
                    let t = text(d, source);
                    t.starts_with("@allowed(").then(|| {
                        t.trim_start_matches("@allowed([")
                            .trim_end_matches("])")
                            .split_whitespace()
                            .map(unquote)
                            .collect::<Vec<_>>()
                    })
                });
                out.insert(
                    text(parts[0], source).to_string(),
                    Param {
                        kind: text(parts[1], source).to_string(),
                        default: parts.get(2).map(|d| text(*d, source).to_string()),
                        allowed,
                        secure,
                    },
                );
            }
            _ => decorators.clear(),
        }
    }
    out
}

#[test]
fn production_is_a_parameter_private_unless_a_development_name_says_otherwise() {
    let (source, tree) = main_bicep();
    let declared = params(&tree, &source);
    let kind = declared.get("environmentType").expect("main.bicep has param environmentType");
    assert_eq!(kind.kind, "string");
    assert_eq!(kind.default.as_deref(), Some("''"), "unset means: the name decides");
    assert_eq!(
        kind.allowed.as_deref(),
        Some(&["".to_string(), "production".into(), "development".into()][..])
    );
    assert_eq!(
        text(variable(&tree, &source, "isProduction").unwrap(), &source),
        "empty(environmentType) ? !namedForDevelopment : environmentType == 'production'",
        "the parameter decides; the name only when it is empty"
    );
    // The name fallback lists development prefixes only, so any other name is production.
    let fallback = text(variable(&tree, &source, "namedForDevelopment").unwrap(), &source);
    let prefixes: Vec<String> = fallback
        .split("||")
        .map(|part| {
            let part = part.trim();
            assert!(part.starts_with("startsWith(lowerName, '"), "{part}");
            unquote(part.trim_start_matches("startsWith(lowerName, ").trim_end_matches(')'))
        })
        .collect();
    let development = |name: &str| prefixes.iter().any(|p| name.to_lowercase().starts_with(p.as_str()));
    for name in ["prod", "production", "live", "prd-kr", "main", "healthsync", "kr-central"] {
        assert!(!development(name), "an environment named {name} would be public: {prefixes:?}");
    }
    for name in ["dev", "dev-kim", "test", "Test-42", "sandbox"] {
        assert!(development(name), "{name} should fall back to development: {prefixes:?}");
    }
    assert_eq!(text(variable(&tree, &source, "lowerName").unwrap(), &source), "toLower(environmentName)");
    assert_eq!(
        text(variable(&tree, &source, "privateNetworking").unwrap(), &source),
        "isProduction || useVnet"
    );
    assert_eq!(
        text(variable(&tree, &source, "effectiveServiceBusSku").unwrap(), &source),
        "privateNetworking ? 'Premium' : serviceBusSku"
    );
    let after_decl = source.split("var effectiveServiceBusSku").nth(1).unwrap();
    assert!(!after_decl.contains("useVnet"), "every switch reads privateNetworking, not useVnet");
    assert!(!source.contains("'prod')"), "no switch reads the name for 'prod' any more");
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

#[test]
fn sizes_follow_the_environment_type_small_outside_production_with_a_reason_for_each_production_size() {
    let (source, tree) = main_bicep();
    let object = |name: &str| -> BTreeMap<String, String> {
        let node = variable(&tree, &source, name).unwrap_or_else(|| panic!("main.bicep has no `var {name}`"));
        properties(node, &source).into_iter().map(|(k, v)| (k, unquote(text(v, &source)))).collect()
    };
    let production = object("productionSizes");
    let development = object("developmentSizes");
    assert_eq!(
        production.keys().collect::<Vec<_>>(),
        development.keys().collect::<Vec<_>>(),
        "both types size the same things"
    );
    assert_eq!(
        text(variable(&tree, &source, "sizes").unwrap(), &source),
        "isProduction ? productionSizes : developmentSizes"
    );
    for (key, production_value, development_value) in [
        ("frontDoorSku", "Premium_AzureFrontDoor", "Standard_AzureFrontDoor"),
        ("notificationHubsSku", "Standard", "Free"),
        ("postgresTier", "GeneralPurpose", "Burstable"),
        ("postgresSku", "Standard_D2ds_v5", "Standard_B1ms"),
        ("redisSku", "Balanced_B1", "Balanced_B0"),
        ("redisHa", "true", "false"),
        ("postgresGeoBackup", "true", "false"),
        ("storageSku", "Standard_GZRS", "Standard_LRS"),
        ("hostStorageSku", "Standard_ZRS", "Standard_LRS"),
    ] {
        assert_eq!(production.get(key).map(String::as_str), Some(production_value), "production {key}");
        assert_eq!(development.get(key).map(String::as_str), Some(development_value), "development {key}");
    }
    // The reason for each production size is written above it.
    let before = &source[..source.find("var productionSizes").unwrap()];
    let reasons: String =
        before.lines().rev().take_while(|l| l.starts_with("//")).collect::<Vec<_>>().join("\n");
    for value in production.values().filter(|v| v.parse::<f64>().is_err() && *v != "true") {
        let said = value.trim_end_matches("_AzureFrontDoor").replace("Standard_", "");
        assert!(reasons.contains(&said), "no reason is given for production's {value}:\n{reasons}");
    }

    // A size parameter left empty takes the type's size; the azd parameter must then stay empty
    // too (`${VAR}`, no `=default`, or the default would win over the environment type).
    let declared = params(&tree, &source);
    let file: serde_json::Value =
        serde_json::from_str(&read(&root().join("infra/main.parameters.json"))).unwrap();
    for (param, sized) in [
        ("postgresSkuName", "postgresSku"),
        ("postgresSkuTier", "postgresTier"),
        ("postgresStorageSizeGB", "postgresStorageGB"),
        ("postgresBackupRetentionDays", "postgresBackupDays"),
        ("postgresGeoRedundantBackup", "postgresGeoBackup"),
        ("redisSku", "redisSku"),
        ("redisHighAvailability", "redisHa"),
        ("storageSku", "storageSku"),
        ("frontDoorSku", "frontDoorSku"),
        ("notificationHubsSku", "notificationHubsSku"),
    ] {
        let p = declared.get(param).unwrap_or_else(|| panic!("no param {param}"));
        assert!(
            matches!(p.default.as_deref(), Some("''") | Some("0")),
            "{param} defaults to {:?}, not to the environment's size",
            p.default
        );
        let value = file["parameters"][param]["value"].as_str().unwrap();
        assert!(
            value.starts_with("${") && value.ends_with('}') && !value.contains('='),
            "{param} is passed as {value}: an inline default would override the environment type"
        );
        let effective = source
            .lines()
            .find(|l| {
                l.starts_with("var effective")
                    && l.split(|c: char| !c.is_ascii_alphanumeric()).any(|word| word == param)
            })
            .unwrap_or_else(|| panic!("no `var effective…` reads {param}"));
        assert!(effective.contains(&format!("sizes.{sized}")), "{effective}");
    }
    let fd = module_params(&tree, &source, "frontDoor");
    assert_eq!(fd.get("sku").map(String::as_str), Some("effectiveFrontDoorSku"));
    let nh = module_params(&tree, &source, "notificationHubs");
    assert_eq!(nh.get("sku").map(String::as_str), Some("effectiveNotificationHubsSku"));
    let pg = module_params(&tree, &source, "postgres");
    assert_eq!(pg.get("skuTier").map(String::as_str), Some("effectivePostgresTier"));
    assert_eq!(
        module_params(&tree, &source, "hostStorage").get("skuName").map(String::as_str),
        Some("sizes.hostStorageSku")
    );

    // Standard Front Door has no managed rule sets: the module sends them on Premium only.
    let (fd_source, fd_tree) = module("frontdoor.bicep");
    let all = resources(&fd_tree, &fd_source);
    let waf = find(&all, "waf");
    assert_eq!(
        text(at(waf.body, &fd_source, "properties.managedRules.managedRuleSets").unwrap(), &fd_source),
        "isPremium ? managedRuleSets : []"
    );
    for r in ["waf", "profile"] {
        assert_eq!(text(at(find(&all, r).body, &fd_source, "sku.name").unwrap(), &fd_source), "sku", "{r}");
    }
}
