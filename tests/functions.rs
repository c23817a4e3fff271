//! The function registry, the function folders and the router agree with each other.

use std::path::Path;

use healthsync::{
    app::api_routes,
    host::registry::{self, Trigger},
    http::openapi::documented_paths,
};

#[test]
fn every_function_folder_matches_the_registry_and_every_function_has_a_folder() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("functions");
    let differences = registry::sync_folders(&dir, false).unwrap();
    assert!(differences.is_empty(), "functions/ drifted from the registry: {differences:?}");
}

#[test]
fn a_folder_without_a_handler_and_a_handler_without_a_folder_are_both_caught() {
    let tmp = tempfile::tempdir().unwrap();
    registry::sync_folders(tmp.path(), true).unwrap();
    assert!(registry::sync_folders(tmp.path(), false).unwrap().is_empty());
    std::fs::create_dir(tmp.path().join("Orphan")).unwrap();
    std::fs::write(tmp.path().join("Orphan/function.json"), "{}").unwrap();
    std::fs::remove_dir_all(tmp.path().join("HeartbeatTally")).unwrap();
    let diff = registry::sync_folders(tmp.path(), false).unwrap();
    assert!(diff.iter().any(|d| d.starts_with("Orphan")), "{diff:?}");
    assert!(diff.iter().any(|d| d == "HeartbeatTally"), "{diff:?}");
}

/// An axum path template as a concrete path (`{id}` → `x`) for matching host templates.
fn concrete(path: &str) -> String {
    path.split('/').map(|seg| if seg.starts_with('{') { "x" } else { seg }).collect::<Vec<_>>().join("/")
}

#[test]
fn every_api_route_is_reachable_through_some_function_route_template() {
    let defs = registry::all();
    for path in api_routes().paths() {
        let rest = path.strip_prefix("/api/").unwrap_or_else(|| panic!("{path} is outside /api"));
        let reachable = defs.iter().any(|d| d.http_route_matches(&concrete(rest)));
        assert!(reachable, "{path} is served by the router but no function routes to it");
    }
}

#[test]
fn every_api_route_is_documented_in_openapi_and_nothing_else_is() {
    let mut routes: Vec<String> = api_routes().paths().iter().map(|p| p.to_string()).collect();
    let mut documented = documented_paths();
    routes.sort();
    documented.sort();
    assert_eq!(routes, documented);
}

#[test]
fn every_service_bus_function_subscribes_to_at_least_one_event_and_timers_are_six_fields_or_settings() {
    for def in registry::all() {
        match def.trigger {
            Trigger::ServiceBus { subjects, .. } => assert!(!subjects.is_empty(), "{}", def.name),
            Trigger::Timer { schedule } => assert!(
                (schedule.starts_with('%') && schedule.ends_with('%'))
                    || schedule.split_whitespace().count() == 6,
                "{}: {schedule}",
                def.name
            ),
            Trigger::Http { route, .. } => assert!(!route.starts_with('/'), "{}", def.name),
        }
    }
}

#[test]
fn host_json_starts_the_handler_with_serve_and_forwards_http() {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("host.json")).unwrap();
    let host: serde_json::Value = serde_json::from_str(&text).unwrap();
    let ch = &host["customHandler"];
    assert_eq!(ch["description"]["defaultExecutablePath"], "healthsync");
    assert_eq!(ch["description"]["arguments"][0], "serve");
    assert_eq!(ch["enableForwardingHttpRequest"], true);
    assert_eq!(host["extensions"]["http"]["routePrefix"], "api");
    assert_eq!(host["extensions"]["serviceBus"]["autoCompleteMessages"], true);
}
