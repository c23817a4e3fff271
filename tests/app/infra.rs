//! `infra/` and `scripts/package` agree with the code: every Bicep file parses, every app setting
//! the code reads and every binding connection is set by the Bicep, every Service Bus function has
//! its filtered subscription, and the deploy zip has the layout the Functions host accepts.

use std::{
    collections::{BTreeMap, BTreeSet},
    path::{Path, PathBuf},
    process::Command,
};

use healthsync::{
    app::Catalog,
    functions::Trigger,
    platform::bus::{EVENTS_TOPIC, MAX_DELIVERY_COUNT},
};
use tree_sitter::{Node, Parser, Tree};

pub(crate) fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn bicep_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            bicep_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "bicep") {
            out.push(path);
        }
    }
}

pub(crate) fn parse(source: &str) -> Tree {
    let mut parser = Parser::new();
    parser.set_language(&tree_sitter_bicep::LANGUAGE.into()).expect("the Bicep grammar loads");
    parser.parse(source, None).expect("the parser returns a tree")
}

/// Every ERROR or MISSING node, as `file:line:column: what`.
fn syntax_errors(file: &str, source: &str, tree: &Tree) -> Vec<String> {
    fn walk(node: Node, file: &str, source: &str, out: &mut Vec<String>) {
        if node.is_error() || node.is_missing() {
            let p = node.start_position();
            let text: String = node.utf8_text(source.as_bytes()).unwrap_or("").chars().take(60).collect();
            let what = if node.is_missing() {
                format!("missing {}", node.kind())
            } else {
                format!("unexpected `{text}`")
            };
            out.push(format!("{file}:{}:{}: {what}", p.row + 1, p.column + 1));
            if node.is_error() {
                return;
            }
        }
        let mut cursor = node.walk();
        for child in node.children(&mut cursor) {
            walk(child, file, source, out);
        }
    }
    let mut out = Vec::new();
    walk(tree.root_node(), file, source, &mut out);
    out
}

pub(crate) fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

pub(crate) fn text<'a>(node: Node, source: &'a str) -> &'a str {
    node.utf8_text(source.as_bytes()).unwrap()
}

pub(crate) fn unquote(s: &str) -> String {
    s.trim_matches('\'').to_string()
}

/// The expression assigned by `var <name> = ...` at the top level of a file.
pub(crate) fn variable<'t>(tree: &'t Tree, source: &str, name: &str) -> Option<Node<'t>> {
    fn find<'t>(node: Node<'t>, source: &str, name: &str) -> Option<Node<'t>> {
        if node.kind() == "variable_declaration" {
            let mut cursor = node.walk();
            let children: Vec<Node> = node.named_children(&mut cursor).collect();
            if children.first().is_some_and(|id| text(*id, source) == name) {
                return children.get(1).copied();
            }
        }
        let mut cursor = node.walk();
        let children: Vec<Node<'t>> = node.named_children(&mut cursor).collect();
        children.into_iter().find_map(|c| find(c, source, name))
    }
    find(tree.root_node(), source, name)
}

/// The properties of an object literal: key (unquoted) → value node.
pub(crate) fn properties<'t>(object: Node<'t>, source: &str) -> BTreeMap<String, Node<'t>> {
    let mut out = BTreeMap::new();
    let mut cursor = object.walk();
    for prop in object.named_children(&mut cursor).filter(|n| n.kind() == "object_property") {
        let mut c = prop.walk();
        let parts: Vec<Node> = prop.named_children(&mut c).collect();
        if let [key, value, ..] = parts.as_slice() {
            out.insert(unquote(text(*key, source)), *value);
        }
    }
    out
}

/// infra/catalog.json, generated from the domain list and loaded by the Bicep.
pub(crate) fn infra_catalog() -> serde_json::Value {
    serde_json::from_str(&read(&root().join("infra/catalog.json"))).unwrap()
}

/// The names of the app settings the function app gets: the generated defaults of
/// infra/catalog.json and the keys of functionapp.bicep's own `*Settings` objects.
fn function_app_settings() -> BTreeSet<String> {
    let source = read(&root().join("infra/modules/functionapp.bicep"));
    let tree = parse(&source);
    let generated =
        variable(&tree, &source, "generatedSettings").expect("functionapp.bicep has `var generatedSettings`");
    assert_eq!(text(generated, &source), "loadJsonContent('../catalog.json').appSettingDefaults");
    let union = variable(&tree, &source, "appSettings").expect("functionapp.bicep has `var appSettings`");
    assert_eq!(text(union, &source), "union(generatedSettings, deploymentSettings)");
    let mut names: BTreeSet<String> =
        infra_catalog()["appSettingDefaults"].as_object().unwrap().keys().cloned().collect();
    for var in ["deploymentSettings", "premiumSettings"] {
        let object =
            variable(&tree, &source, var).unwrap_or_else(|| panic!("functionapp.bicep has no `var {var}`"));
        assert_eq!(object.kind(), "object", "`var {var}` is an object literal");
        names.extend(properties(object, &source).into_keys());
    }
    names
}

#[test]
fn every_bicep_file_parses_without_syntax_errors() {
    let mut files = Vec::new();
    bicep_files(&root().join("infra"), &mut files);
    files.sort();
    assert!(files.len() >= 10, "expected main.bicep and its modules, found {files:?}");
    let mut errors = Vec::new();
    for path in &files {
        let source = read(path);
        let rel = path.strip_prefix(root()).unwrap().display().to_string();
        errors.extend(syntax_errors(&rel, &source, &parse(&source)));
    }
    assert!(errors.is_empty(), "Bicep syntax errors:\n{}", errors.join("\n"));
}

#[test]
fn a_syntax_error_is_reported_with_its_file_and_line() {
    let source = "param ok string\nresource x 'A/b@2020-01-01' = {\n  name: 'x'\n  properties: {\n}\n";
    let errors = syntax_errors("broken.bicep", source, &parse(source));
    assert!(!errors.is_empty(), "an unclosed object must be reported");
    assert!(errors.iter().all(|e| e.starts_with("broken.bicep:")), "{errors:?}");
    let stray = "var a = 1 +\nparam b string\n";
    assert!(
        syntax_errors("s.bicep", stray, &parse(stray)).iter().any(|e| e.starts_with("s.bicep:")),
        "a dangling operator must be reported"
    );
}

#[test]
fn every_app_setting_the_code_reads_is_set_by_the_bicep() {
    let settings = function_app_settings();
    let used: Vec<_> = Catalog::app().azure_settings().into_iter().map(|s| s.name).collect();
    assert!(used.len() > 10, "{used:?}");
    let missing: Vec<_> = used.iter().filter(|name| !settings.contains(**name)).collect();
    assert!(missing.is_empty(), "infra/modules/functionapp.bicep does not set {missing:?}");
}

#[test]
fn secrets_are_key_vault_references_never_plain_values() {
    let source = read(&root().join("infra/modules/functionapp.bicep"));
    let tree = parse(&source);
    let object = variable(&tree, &source, "deploymentSettings").unwrap();
    let props = properties(object, &source);
    let secrets: Vec<&str> =
        Catalog::app().azure_settings().into_iter().filter(|s| s.secret).map(|s| s.name).collect();
    assert!(secrets.contains(&"DATABASE_URL") && secrets.contains(&"AUTH_SIGNING_KEYS"), "{secrets:?}");
    for secret in secrets.into_iter().chain(["ANTHROPIC_API_KEY"]) {
        let value = props.get(secret).unwrap_or_else(|| panic!("{secret} is not set"));
        assert!(text(*value, &source).starts_with("'${kv}/"), "{secret} must be a Key Vault reference");
    }
    let kv = variable(&tree, &source, "kv").unwrap();
    assert!(
        text(kv, &source).starts_with("'@Microsoft.KeyVault(SecretUri="),
        "`kv` builds Key Vault references"
    );
}

#[test]
fn every_binding_connection_has_its_app_setting() {
    let settings = function_app_settings();
    let mut checked = 0;
    for entry in std::fs::read_dir(root().join("functions")).unwrap().flatten() {
        let path = entry.path().join("function.json");
        let json: serde_json::Value = serde_json::from_str(&read(&path)).unwrap();
        for binding in json["bindings"].as_array().unwrap() {
            let Some(connection) = binding.get("connection").and_then(|c| c.as_str()) else { continue };
            let identity_based = format!("{connection}__fullyQualifiedNamespace");
            assert!(
                settings.contains(&identity_based) || settings.contains(connection),
                "{} uses connection {connection} but the Bicep sets neither {identity_based} nor {connection}",
                path.display()
            );
            checked += 1;
        }
    }
    assert!(checked > 0, "no binding with a connection was found; the check checked nothing");
}

#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Subscription {
    name: String,
    function: String,
    subjects: BTreeSet<String>,
}

/// The subscriptions the Bicep creates: main.bicep takes them from infra/catalog.json.
fn bicep_subscriptions() -> BTreeSet<Subscription> {
    let source = read(&root().join("infra/main.bicep"));
    let tree = parse(&source);
    let catalog = variable(&tree, &source, "catalog").expect("main.bicep has `var catalog`");
    assert_eq!(text(catalog, &source), "loadJsonContent('catalog.json')");
    let subs = variable(&tree, &source, "serviceBusSubscriptions")
        .expect("main.bicep has `var serviceBusSubscriptions`");
    assert_eq!(text(subs, &source), "catalog.serviceBusSubscriptions");
    infra_catalog()["serviceBusSubscriptions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| Subscription {
            name: s["name"].as_str().unwrap().to_string(),
            function: s["function"].as_str().unwrap().to_string(),
            subjects: s["subjects"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_str().unwrap().to_string())
                .collect(),
        })
        .collect()
}

#[test]
fn every_service_bus_function_has_its_subscription_filtered_on_its_subjects() {
    let mut expected = BTreeSet::new();
    for def in Catalog::app().functions() {
        if let Trigger::ServiceBus { topic, subscription, subjects } = def.trigger {
            assert_eq!(topic, EVENTS_TOPIC, "{} listens on a topic the Bicep does not create", def.name);
            expected.insert(Subscription {
                name: subscription.to_string(),
                function: def.name.to_string(),
                subjects: subjects.iter().map(|s| s.to_string()).collect(),
            });
        }
    }
    assert!(!expected.is_empty(), "the catalog has no Service Bus function; the check checked nothing");
    assert_eq!(
        bicep_subscriptions(),
        expected,
        "main.bicep serviceBusSubscriptions differs from the catalog"
    );

    // The module turns each entry into a subscription whose only rule matches its subjects.
    let module = read(&root().join("infra/modules/servicebus.bicep"));
    assert!(module.contains("param topicName string = 'events'"), "the topic is `events`");
    assert!(
        module.contains("name: '$Default'") && module.contains("sys.Label IN"),
        "the $Default rule filters on Subject"
    );
    assert!(module.contains("join(s.subjects"), "the filter is built from the entry's subjects");
}

#[test]
fn max_delivery_count_and_timer_functions_match_the_code() {
    let source = read(&root().join("infra/main.bicep"));
    assert!(
        source.contains(&format!("maxDeliveryCount: {MAX_DELIVERY_COUNT} ")),
        "main.bicep passes maxDeliveryCount: {MAX_DELIVERY_COUNT} (MAX_DELIVERY_COUNT)"
    );
    let tree = parse(&source);
    let timers = variable(&tree, &source, "timerFunctions").expect("main.bicep has `var timerFunctions`");
    assert_eq!(text(timers, &source), "catalog.timerFunctions");
    let timers: BTreeSet<String> = infra_catalog()["timerFunctions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap().to_string())
        .collect();
    let expected: BTreeSet<String> = Catalog::app()
        .functions()
        .into_iter()
        .filter(|d| matches!(d.trigger, Trigger::Timer { .. }))
        .map(|d| d.name.to_string())
        .collect();
    assert_eq!(
        timers, expected,
        "main.bicep timerFunctions (disabled in the staging slot) differs from the catalog"
    );
}

/// The static (musl) binary that scripts/test builds before the tests
/// (`PACKAGE_PROFILE=dev PACKAGE_BUILD_ONLY=1 scripts/package`, exported as HEALTHSYNC_STATIC_BIN).
fn static_binary() -> PathBuf {
    let path = std::env::var_os("HEALTHSYNC_STATIC_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target/x86_64-unknown-linux-musl/debug/healthsync"));
    assert!(
        path.is_file(),
        "no static binary at {}: run scripts/test, or `PACKAGE_PROFILE=dev PACKAGE_BUILD_ONLY=1 scripts/package` first",
        path.display()
    );
    path
}

fn package(binary: &Path, dist: &Path) -> std::process::Output {
    Command::new(root().join("scripts/package"))
        .env("PACKAGE_BINARY", binary)
        .env("PACKAGE_DIST", dist)
        .output()
        .expect("scripts/package runs")
}

#[test]
fn the_package_refuses_a_binary_that_is_not_static() {
    let dist = tempfile::tempdir().unwrap();
    // A glibc-linked program (the system's `ls`): exactly what must never reach the Functions image.
    let out = package(Path::new("/bin/ls"), dist.path());
    assert!(!out.status.success(), "a glibc-linked binary was packaged");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("dynamically linked"), "{err}");
    assert!(!dist.path().join("healthsync.zip").exists());
}

#[test]
fn the_packaged_static_binary_serves_live() {
    let dist = tempfile::tempdir().unwrap();
    let out = package(&static_binary(), dist.path());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // Unpacked from the zip, as the host sees it: the run bit must have survived.
    let app = tempfile::tempdir().unwrap();
    let mut archive =
        zip::ZipArchive::new(std::fs::File::open(dist.path().join("healthsync.zip")).unwrap()).unwrap();
    archive.extract(app.path()).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut child = Command::new(app.path().join("healthsync"))
        .arg("serve")
        .current_dir(app.path())
        .env_clear()
        .env("FUNCTIONS_CUSTOMHANDLER_PORT", port.to_string())
        .env("DATABASE_URL", "postgres://unused@127.0.0.1:1/unused")
        .env("RUST_LOG", "warn")
        .spawn()
        .expect("the packaged binary starts");
    let started = std::time::Instant::now();
    let status = loop {
        match live_status(port) {
            Some(status) => break Some(status),
            None if started.elapsed() > std::time::Duration::from_secs(10) => break None,
            None => std::thread::sleep(std::time::Duration::from_millis(20)),
        }
    };
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(status, Some(200), "GET /api/system/live on the packaged binary");
}

/// The status of `GET /api/system/live`, or `None` while nothing listens.
fn live_status(port: u16) -> Option<u16> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.write_all(b"GET /api/system/live HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").ok()?;
    let mut answer = String::new();
    s.read_to_string(&mut answer).ok()?;
    answer.split(' ').nth(1)?.parse().ok()
}

#[test]
fn the_package_has_the_layout_the_functions_host_accepts() {
    let dist = tempfile::tempdir().unwrap();
    let out = package(&static_binary(), dist.path());
    assert!(out.status.success(), "scripts/package failed: {}", String::from_utf8_lossy(&out.stderr));

    let file = std::fs::File::open(dist.path().join("healthsync.zip")).expect("dist/healthsync.zip exists");
    let mut archive = zip::ZipArchive::new(file).unwrap();
    let mut found = BTreeMap::new();
    for i in 0..archive.len() {
        let entry = archive.by_index(i).unwrap();
        if !entry.is_dir() {
            found.insert(entry.name().unwrap().to_string(), entry.unix_mode().map(|m| m & 0o777));
        }
    }

    let mut expected: BTreeMap<String, Option<u32>> = BTreeMap::new();
    expected.insert("host.json".into(), Some(0o644));
    expected.insert("healthsync".into(), Some(0o755));
    for def in Catalog::app().functions() {
        expected.insert(format!("{}/function.json", def.name), Some(0o644));
    }
    assert_eq!(
        found, expected,
        "zip entries (name → mode) differ from host.json + one folder per function + the executable"
    );

    let host: serde_json::Value = serde_json::from_str(&read(&root().join("host.json"))).unwrap();
    assert_eq!(host["customHandler"]["description"]["defaultExecutablePath"], "healthsync");
    for def in Catalog::app().functions() {
        let mut entry = archive.by_name(&format!("{}/function.json", def.name)).unwrap();
        let mut packaged = String::new();
        std::io::Read::read_to_string(&mut entry, &mut packaged).unwrap();
        assert_eq!(packaged, read(&root().join("functions").join(def.name).join("function.json")));
    }
}
