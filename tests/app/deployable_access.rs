//! Who may reach what (issue 24), read from the Bicep's syntax tree: the app reads only its own
//! secrets and blob containers, every resource with logs of its own sends them to the workspace,
//! and migrations run inside the network as an identity the app never holds.

use std::collections::{BTreeMap, BTreeSet};

use crate::{
    deployable::{Resource, at, find, main_bicep, module, module_params, resources},
    infra::{properties, read, root, text, unquote, variable},
};

const SECRETS_USER: &str = "4633458b-17de-408a-b874-0445c86b69e6";

fn module_files() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(root().join("infra/modules"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".bicep"))
        .collect();
    names.sort();
    names
}

/// The role definition id (or the variable holding it) a role assignment names.
fn role_of(r: &Resource, source: &str) -> String {
    text(at(r.body, source, "properties.roleDefinitionId").unwrap(), source).to_string()
}

#[test]
fn the_app_reads_each_of_its_secrets_by_name_and_never_the_vault_or_the_admin_password() {
    // The Key Vault references the app's settings make: the secrets it must be able to read.
    let (fa, fa_tree) = module("functionapp.bicep");
    let settings = properties(variable(&fa_tree, &fa, "deploymentSettings").unwrap(), &fa);
    let referenced: BTreeSet<String> = settings
        .values()
        .map(|v| text(*v, &fa))
        .filter_map(|v| v.strip_prefix("'${kv}/"))
        .map(|v| v.trim_end_matches("/)'").to_string())
        .collect();
    assert!(referenced.len() >= 7, "{referenced:?}");

    let mut readable = BTreeSet::new();
    for file in module_files() {
        let (source, tree) = module(&file);
        let all = resources(&tree, &source);
        let secret_var = variable(&tree, &source, "secretsUser").map(|v| unquote(text(v, &source)));
        for r in all.iter().filter(|r| r.kind.starts_with("Microsoft.Authorization/roleAssignments")) {
            let role = role_of(r, &source);
            let secrets_user = role.contains(SECRETS_USER)
                || secret_var.as_deref() == Some(SECRETS_USER) && role.contains("secretsUser");
            if !secrets_user {
                continue;
            }
            let scope = text(at(r.body, &source, "scope").unwrap(), &source);
            let target = find(&all, scope);
            assert!(
                target.kind.starts_with("Microsoft.KeyVault/vaults/secrets@"),
                "{file}: {} grants Key Vault Secrets User on `{scope}` ({}), not on one secret",
                r.name,
                target.kind
            );
            assert_eq!(
                text(at(r.body, &source, "properties.principalId").unwrap(), &source),
                "appPrincipalId",
                "{file}: {}",
                r.name
            );
            // A conditional secret's assignment exists exactly when the secret does.
            assert_eq!(r.condition, target.condition, "{file}: {} and {scope}", r.name);
            readable.insert(unquote(text(at(target.body, &source, "name").unwrap(), &source)));
        }
    }
    assert!(!readable.contains("postgres-admin-password"), "the app can read the break-glass password");
    assert_eq!(readable, referenced, "secrets the app may read ≠ secrets its settings reference");
}

#[test]
fn blob_roles_are_granted_on_containers_never_on_a_storage_account() {
    const BLOB_ROLES: [&str; 3] = [
        "b7e6dc6d-f1e8-4753-8033-0f276bb0955b", // Storage Blob Data Owner
        "ba92f5b4-2d11-453d-a403-e96b0029c9fe", // Storage Blob Data Contributor
        "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1", // Storage Blob Data Reader
    ];
    let mut checked = 0;
    for file in module_files() {
        let (source, tree) = module(&file);
        let all = resources(&tree, &source);
        for r in all.iter().filter(|r| r.kind.starts_with("Microsoft.Authorization/roleAssignments")) {
            let mut role = role_of(r, &source);
            // A role held in a variable or parameter: resolve the variable, and trust a
            // parameter only when it is the module's blob-role parameter.
            if let Some(v) = role.split(['(', ',', ')', ' ']).find_map(|w| variable(&tree, &source, w)) {
                role.push_str(text(v, &source));
            }
            let blob = BLOB_ROLES.iter().any(|id| role.contains(id)) || role.contains("blobRoleDefinitionId");
            if !blob {
                continue;
            }
            let scope = text(at(r.body, &source, "scope").unwrap(), &source);
            let target = all
                .iter()
                .find(|x| x.name == scope.split('[').next().unwrap())
                .unwrap_or_else(|| panic!("{file}: {} is scoped to `{scope}`", r.name));
            assert!(
                target.kind.starts_with("Microsoft.Storage/storageAccounts/blobServices/containers@"),
                "{file}: {} grants a blob role on `{scope}` ({}), not on a container",
                r.name,
                target.kind
            );
            checked += 1;
        }
    }
    assert!(checked >= 4, "the app's, the deployer's and the migrator's blob roles: {checked}");
    // The host's own containers exist beforehand, so its role can be scoped to them.
    let (main, tree) = main_bicep();
    let containers = module_params(&tree, &main, "hostStorage")["containers"].clone();
    for c in ["azure-webjobs-hosts", "azure-webjobs-secrets", "deploymentContainerName"] {
        assert!(containers.contains(c), "the host account's containers lack {c}: {containers}");
    }
}

/// Why each resource type declared in infra/ has no diagnostic setting of its own.
const NO_LOGS_OF_THEIR_OWN: [(&str, &str); 38] = [
    ("Microsoft.Resources/resourceGroups", "no resource logs; its changes are the activity log"),
    ("Microsoft.ManagedIdentity/userAssignedIdentities", "no resource logs; sign-ins are in Entra ID"),
    ("Microsoft.Authorization/roleAssignments", "activity log"),
    ("Microsoft.Insights/diagnosticSettings", "the settings themselves"),
    ("Microsoft.Insights/components", "workspace-based: its telemetry is stored in the workspace"),
    ("Microsoft.Insights/actionGroups", "no resource logs; notifications are in the activity log"),
    ("Microsoft.Insights/scheduledQueryRules", "alert firings are in the activity log"),
    ("Microsoft.Insights/metricAlerts", "alert firings are in the activity log"),
    ("Microsoft.KeyVault/vaults/secrets", "read and written through the vault, whose AuditEvent logs it"),
    ("Microsoft.Web/serverfarms", "metrics only, no resource logs"),
    ("Microsoft.Web/sites/config", "a setting of the site; changes are in the activity log"),
    ("Microsoft.Web/sites/basicPublishingCredentialsPolicies", "a setting of the site"),
    ("Microsoft.Web/sites/slots/config", "a setting of the slot"),
    ("Microsoft.Web/sites/slots/basicPublishingCredentialsPolicies", "a setting of the slot"),
    ("Microsoft.Storage/storageAccounts", "logs are per service (blob, queue, table, file), each set"),
    ("Microsoft.Storage/storageAccounts/blobServices/containers", "the blob service's logs"),
    ("Microsoft.Storage/storageAccounts/managementPolicies", "a setting of the account"),
    ("Microsoft.DBforPostgreSQL/flexibleServers/databases", "the server's logs"),
    ("Microsoft.DBforPostgreSQL/flexibleServers/configurations", "the server's logs"),
    ("Microsoft.DBforPostgreSQL/flexibleServers/firewallRules", "the server's logs"),
    ("Microsoft.DBforPostgreSQL/flexibleServers/administrators", "the server's logs"),
    ("Microsoft.Cache/redisEnterprise/databases/accessPolicyAssignments", "the database's logs"),
    ("Microsoft.ServiceBus/namespaces/topics", "the namespace's logs cover its entities"),
    ("Microsoft.ServiceBus/namespaces/topics/subscriptions", "the namespace's logs"),
    ("Microsoft.ServiceBus/namespaces/topics/subscriptions/rules", "the namespace's logs"),
    ("Microsoft.EventHub/namespaces/eventhubs", "the namespace's logs cover its hubs"),
    ("Microsoft.NotificationHubs/namespaces/notificationHubs/authorizationRules", "the hub's logs"),
    ("Microsoft.Network/privateDnsZones", "no resource logs"),
    ("Microsoft.Network/privateDnsZones/virtualNetworkLinks", "no resource logs"),
    ("Microsoft.Network/privateEndpoints", "no resource logs (metrics only)"),
    ("Microsoft.Network/privateEndpoints/privateDnsZoneGroups", "no resource logs"),
    ("Microsoft.Network/FrontDoorWebApplicationFirewallPolicies", "the profile logs its matches"),
    ("Microsoft.Cdn/profiles/afdEndpoints", "the profile's logs"),
    ("Microsoft.Cdn/profiles/originGroups", "the profile's logs"),
    ("Microsoft.Cdn/profiles/originGroups/origins", "the profile's logs"),
    ("Microsoft.Cdn/profiles/afdEndpoints/routes", "the profile's logs"),
    ("Microsoft.Cdn/profiles/securityPolicies", "the profile's logs"),
    ("Microsoft.Resources/deploymentScripts", "its output stays on the resource (show-log)"),
];

#[test]
fn every_resource_with_logs_of_its_own_sends_them_to_the_workspace() {
    let exempt: BTreeMap<&str, &str> = NO_LOGS_OF_THEIR_OWN.into_iter().collect();
    let mut logged = BTreeSet::new();
    let mut files: Vec<String> = module_files().into_iter().map(|f| format!("modules/{f}")).collect();
    files.push("main.bicep".into());
    for file in files {
        let source = read(&root().join("infra").join(&file));
        let tree = crate::infra::parse(&source);
        let all = resources(&tree, &source);
        let diagnosed: BTreeSet<&str> = all
            .iter()
            .filter(|r| r.kind.starts_with("Microsoft.Insights/diagnosticSettings"))
            .filter(|r| at(r.body, &source, "properties.workspaceId").is_some())
            .map(|r| text(at(r.body, &source, "scope").unwrap(), &source))
            .collect();
        for r in all.iter().filter(|r| !r.existing) {
            let kind = r.kind.split('@').next().unwrap();
            if exempt.contains_key(kind) {
                continue;
            }
            assert!(
                diagnosed.contains(r.name.as_str()),
                "{file}: `{}` ({kind}) has no diagnostic setting; add one, or say in NO_LOGS_OF_THEIR_OWN why it needs none",
                r.name
            );
            logged.insert(kind.to_string());
        }
        // Storage services declared only to be logged.
        for r in all.iter().filter(|r| r.existing && r.kind.contains("Services@")) {
            assert!(diagnosed.contains(r.name.as_str()), "{file}: `{}` is declared but not logged", r.name);
        }
    }
    for kind in [
        "Microsoft.NotificationHubs/namespaces",
        "Microsoft.NotificationHubs/namespaces/notificationHubs",
        "Microsoft.Web/sites/slots",
        "Microsoft.Network/networkSecurityGroups",
        "Microsoft.KeyVault/vaults",
        "Microsoft.Cdn/profiles",
    ] {
        assert!(logged.contains(kind), "{kind} should be among the logged types: {logged:?}");
    }
    let readme = read(&root().join("infra/README.md"));
    assert!(
        readme.contains("every resource that has logs of its own"),
        "infra/README.md states the rule this test holds the Bicep to"
    );
}

#[test]
fn migrations_run_inside_the_network_as_an_identity_the_app_never_holds() {
    let (main, tree) = main_bicep();
    let m = module_params(&tree, &main, "migration");
    let p = |k: &str| m.get(k).map(String::as_str);
    assert_eq!(p("subnetId"), Some("privateNetworking ? network.outputs.deploymentScriptSubnetId : ''"));
    assert_eq!(p("migratorId"), Some("migrator.outputs.id"));
    assert_eq!(p("postgresHost"), Some("postgres.outputs.fqdn"));
    assert_eq!(p("releaseUrl"), Some("releaseUrl"));
    assert_eq!(p("releaseSha256"), Some("releaseSha256"));
    assert_eq!(p("appPrincipalId"), Some("identity.outputs.principalId"));
    let pg = module_params(&tree, &main, "postgres");
    assert_eq!(pg.get("migratorObjectId").map(String::as_str), Some("migrator.outputs.principalId"));
    assert!(
        main.contains("output AZURE_MIGRATED_SHA256 string = migration.outputs.migratedSha256"),
        "the deploy steps read which build the database was migrated with"
    );
    // The app never gets the migrator identity.
    let fa = module_params(&tree, &main, "functionApp");
    assert!(fa.values().all(|v| !v.contains("migrator")), "{fa:?}");

    // The deployment script: in the ACI subnet when private, as the migrator, re-run per build.
    let (source, tree) = module("migration.bicep");
    let all = resources(&tree, &source);
    let script = find(&all, "migrate");
    assert!(script.kind.starts_with("Microsoft.Resources/deploymentScripts@2023-08-01"), "{}", script.kind);
    assert_eq!(script.condition.as_deref(), Some("(!empty(releaseUrl))"));
    let get = |path: &str| text(at(script.body, &source, path).unwrap(), &source).to_string();
    assert_eq!(get("identity.type"), "'UserAssigned'");
    assert!(get("identity.userAssignedIdentities").contains("'${migratorId}'"));
    assert_eq!(get("properties.containerSettings"), "containerSettings");
    assert_eq!(get("properties.forceUpdateTag"), "releaseSha256");
    assert_eq!(get("properties.scriptContent"), "loadTextContent('migrate.sh')");
    assert_eq!(
        text(variable(&tree, &source, "containerSettings").unwrap(), &source),
        "isPrivate ? privateContainer : {}"
    );
    assert!(text(variable(&tree, &source, "privateContainer").unwrap(), &source).contains("id: subnetId"));
    let account = find(&all, "account");
    let acl = |path: &str| text(at(account.body, &source, path).unwrap(), &source).to_string();
    assert_eq!(acl("properties.networkAcls.defaultAction"), "isPrivate ? 'Deny' : 'Allow'");
    assert_eq!(acl("properties.networkAcls.virtualNetworkRules"), "vnetRules");
    assert_eq!(acl("properties.networkAcls.bypass"), "'AzureServices'");
    assert!(source.contains("migrate.properties.outputs.migratedSha256"));

    // The subnet the container runs in.
    let network = read(&root().join("infra/modules/network.bicep"));
    let subnet = network.split("name: 'deployment-scripts'").nth(1).expect("a deployment-scripts subnet");
    let subnet = &subnet[..subnet.find("}\n]").unwrap()];
    assert!(subnet.contains("delegation: 'Microsoft.ContainerInstance/containerGroups'"), "{subnet}");
    assert!(subnet.contains("service: 'Microsoft.Storage'"), "{subnet}");

    // The migrator is a PostgreSQL Entra admin; the app's identity never is.
    let (pg_source, pg_tree) = module("postgres.bicep");
    let pg_all = resources(&pg_tree, &pg_source);
    let admins: Vec<&Resource> = pg_all
        .iter()
        .filter(|r| r.kind.starts_with("Microsoft.DBforPostgreSQL/flexibleServers/administrators"))
        .collect();
    let migrator = find(&pg_all, "migratorAdministrator");
    assert!(migrator.condition.is_none());
    assert_eq!(text(at(migrator.body, &pg_source, "name").unwrap(), &pg_source), "migratorObjectId");
    for admin in admins {
        assert!(
            !text(admin.body, &pg_source).contains("appPrincipalId"),
            "{} makes the app an admin",
            admin.name
        );
    }

    // The script checks the binary, migrates as the migrator and grants the app its role only.
    let script = read(&root().join("infra/modules/migrate.sh"));
    for needle in [
        "sha256sum app/healthsync",
        "\"$actual\" != \"$RELEASE_SHA256\"",
        "$(urlencode \"$MIGRATOR_ROLE\")",
        "DATABASE_APP_PRINCIPAL=\"$APP_ROLE:$APP_OBJECT_ID\"",
        "./app/healthsync migrate",
        "migratedSha256",
    ] {
        assert!(script.contains(needle), "infra/modules/migrate.sh lacks {needle}");
    }
    // And nothing migrates from the agent any more.
    let azure = read(&root().join("azure.yaml"));
    assert!(!azure.contains("postprovision"), "no hook migrates from outside the network");
    assert!(!root().join("scripts/migrate-azure").exists());
}
