//! The contract drift guard: the committed OpenAPI document (`openapi/openapi.json`) is what
//! clients are built against; the generated one may only break it where docs/api-changes.md
//! records the change (`healthsync::app::contract`). That the committed document is the generated
//! one is the generated-files check (`healthsync generate`).

use std::path::Path;

use healthsync::app::{Catalog, contract, generate};
use serde_json::Value;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn the_generated_document_breaks_nothing_unrecorded() {
    let committed =
        std::fs::read_to_string(root().join(generate::OPENAPI)).expect("openapi/openapi.json is committed");
    let generated = generate::openapi_document(&Catalog::app()).unwrap();
    let unrecorded = generate::unrecorded_breaking_changes(root(), &generated).unwrap();
    assert!(
        unrecorded.is_empty(),
        "breaking changes to the committed OpenAPI document that {} does not record:\n  {}",
        contract::API_CHANGES,
        unrecorded.join("\n  ")
    );
    // The baseline is a real document: the guard compares something.
    let doc: Value = serde_json::from_str(&committed).unwrap();
    assert!(doc["paths"].as_object().is_some_and(|p| p.len() > 30), "the committed document has its paths");
}

#[test]
fn a_removed_field_renamed_path_or_new_requirement_is_caught_against_the_committed_document() {
    let committed: Value =
        serde_json::from_str(&std::fs::read_to_string(root().join(generate::OPENAPI)).unwrap()).unwrap();
    let recorded = std::fs::read_to_string(root().join(contract::API_CHANGES)).unwrap();
    let mut broken = committed.clone();
    // A field the app reads (MOBILE-CONTRACT.md) renamed, an enum value dropped, a new required
    // request field, and an operation moved.
    let consultation = &mut broken["paths"]["/api/intelligence/chat/consultation"]["post"]["responses"]["200"]
        ["content"]["application/json"]["schema"]["properties"]["data"]["properties"];
    let session = consultation.as_object_mut().unwrap().remove("sessionId").unwrap();
    consultation["chatSessionId"] = session;
    broken["components"]["schemas"]["RiskLevel"]["enum"].as_array_mut().unwrap().retain(|v| v != "높음");
    broken["components"]["schemas"]["ConsultationRequest"]["required"] =
        serde_json::json!(["message", "context"]);
    let paths = broken["paths"].as_object_mut().unwrap();
    let read = paths.remove("/api/notifications/{notificationId}/read").unwrap();
    paths.insert("/api/notifications/{notificationId}/seen".into(), read);

    let changes = contract::breaking_changes(&committed, &broken);
    for expected in [
        "removed field: POST /api/intelligence/chat/consultation 200 data.sessionId",
        "removed enum value: GET /api/intelligence/health/diagnosis 200 data.riskLevel \"높음\"",
        "new required request field: POST /api/intelligence/chat/consultation body.context",
        "removed operation: POST /api/notifications/{notificationId}/read",
    ] {
        assert!(changes.iter().any(|c| c == expected), "{expected} not found in {changes:#?}");
    }
    assert_eq!(contract::unrecorded(&changes, &recorded), changes, "none of these is recorded");
}

#[test]
fn creating_responses_link_to_what_reads_changes_or_deletes_what_they_created() {
    let doc = healthsync::http::openapi::to_json(&Catalog::app().openapi());
    let link = |path: &str, method: &str, status: &str, name: &str| {
        doc["paths"][path][method]["responses"][status]["links"][name].clone()
    };
    for (path, method, status, name, to, parameter, from) in [
        (
            "/api/health/checkups",
            "post",
            "201",
            "GetCheckup",
            "getCheckup",
            "checkupId",
            "$response.body#/data/id",
        ),
        (
            "/api/health/checkups",
            "post",
            "201",
            "DeleteCheckup",
            "deleteCheckup",
            "checkupId",
            "$response.body#/data/id",
        ),
        (
            "/api/health/checkup/sync",
            "post",
            "202",
            "CompleteCheckupSync",
            "completeCheckupSync",
            "jobId",
            "$response.body#/data/jobId",
        ),
        (
            "/api/health/checkup/files",
            "post",
            "201",
            "DownloadCheckupFile",
            "downloadCheckupFile",
            "fileId",
            "$response.body#/data/id",
        ),
        (
            "/api/health/checkup/files",
            "post",
            "201",
            "DeleteCheckupFile",
            "deleteCheckupFile",
            "fileId",
            "$response.body#/data/id",
        ),
        (
            "/api/goals/missions/select",
            "post",
            "201",
            "CompleteMission",
            "completeMission",
            "missionId",
            "$response.body#/data/selectedMissions/0/missionId",
        ),
        (
            "/api/intelligence/chat/consultation",
            "post",
            "200",
            "GetChatHistory",
            "getChatHistory",
            "sessionId",
            "$response.body#/data/sessionId",
        ),
        (
            "/api/notifications",
            "get",
            "200",
            "MarkNotificationRead",
            "markNotificationRead",
            "notificationId",
            "$response.body#/data/notifications/0/id",
        ),
    ] {
        let l = link(path, method, status, name);
        assert_eq!(l["operationId"], to, "{method} {path} {status} {name}: {l}");
        assert_eq!(l["parameters"][parameter], from, "{method} {path} {status} {name}: {l}");
        assert!(l.get("operation_id").is_none(), "Link Object fields are camelCase: {l}");
    }
    assert_eq!(
        link("/api/goals/missions/select", "post", "201", "GetActiveMissions")["operationId"],
        "getActiveMissions"
    );
}
