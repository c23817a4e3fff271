//! The domain list and everything derived from it agree: the generated files are fresh, every
//! route is reachable through a function and documented, every schema holding users' data has a
//! data part, and a new domain joins by being listed, nothing else (the throwaway domain below).

use std::path::Path;

use axum::http::{Method, StatusCode};
use healthsync::{
    DOMAINS,
    app::{Catalog, generate},
    config::Setting,
    domain::{AnyDomain, DataPart, DomainModule, Module, Platform},
    functions::{
        FUNCTION_TIMEOUT, Function, HOST_FUNCTION_TIMEOUT, InvocationRequest, InvocationResponse,
        InvokeFuture, MESSAGE_IN, ServiceBusMessage, Trigger,
    },
    http::{Routes, Success},
    users::api::{AuthUser, Verifier},
};
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::support::{TestApp, call, spawn};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn the_generated_files_are_fresh() {
    let stale = generate::sync(&Catalog::app(), root(), false).unwrap();
    assert!(stale.is_empty(), "stale generated files: {stale:?} (run `healthsync generate --write`)");
}

#[test]
fn a_stale_function_folder_and_a_missing_one_are_both_caught() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::copy(root().join("README.md"), tmp.path().join("README.md")).unwrap();
    std::fs::create_dir(tmp.path().join("infra")).unwrap();
    generate::sync(&Catalog::app(), tmp.path(), true).unwrap();
    assert!(generate::sync(&Catalog::app(), tmp.path(), false).unwrap().is_empty());
    std::fs::create_dir(tmp.path().join("functions/Orphan")).unwrap();
    std::fs::write(tmp.path().join("functions/Orphan/function.json"), "{}").unwrap();
    std::fs::remove_dir_all(tmp.path().join("functions/HeartbeatTally")).unwrap();
    std::fs::write(tmp.path().join("infra/catalog.json"), "{}").unwrap();
    let diff = generate::sync(&Catalog::app(), tmp.path(), false).unwrap();
    assert!(diff.iter().any(|d| d.starts_with("functions/Orphan")), "{diff:?}");
    assert!(diff.iter().any(|d| d.contains("HeartbeatTally")), "{diff:?}");
    assert!(diff.iter().any(|d| d == "infra/catalog.json"), "{diff:?}");
}

#[test]
fn the_declarations_are_consistent() {
    let problems = Catalog::app().problems();
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn duplicate_or_snake_case_operation_ids_and_undeclared_schedules_are_problems() {
    struct Twice;
    impl DomainModule for Twice {
        type State = ();
        type Needs = ();
        const NAME: &'static str = "twice";
        fn state(_: &Platform, (): ()) -> anyhow::Result<()> {
            Ok(())
        }
        fn openapi() -> utoipa::openapi::OpenApi {
            // Another domain's `live` handler at its own path: the same operation id.
            use utoipa::openapi::{HttpMethod, path::OperationBuilder};
            let mut doc = utoipa::openapi::OpenApi::default();
            let op = OperationBuilder::new().operation_id(Some("getLiveness")).build();
            doc.paths.add_path_operation("/api/twice/live", vec![HttpMethod::Get], op);
            // Names in another style than the document's: snake_case id and path parameter.
            let op = OperationBuilder::new().operation_id(Some("get_twice")).build();
            doc.paths.add_path_operation("/api/twice/{twice_id}", vec![HttpMethod::Get], op);
            // And a schema named like one of the users domain, but another.
            let profile = utoipa::openapi::schema::ObjectBuilder::new()
                .property("other", utoipa::openapi::schema::Object::new())
                .build();
            doc.components
                .get_or_insert_with(Default::default)
                .schemas
                .insert("RegisterRequest".into(), profile.into());
            doc
        }
        fn functions() -> Vec<Function<()>> {
            vec![Function::timer("Undeclared", "%NOBODY_DECLARES_THIS%", |_, _| {
                Box::pin(async { Ok(InvocationResponse::default()) })
            })]
        }
    }
    let twice = Module::<Twice>::new();
    let domains: Vec<&dyn AnyDomain> = DOMAINS.iter().copied().chain([&twice as &dyn AnyDomain]).collect();
    let problems = Catalog::new(&domains).problems();
    assert!(problems.iter().any(|p| p.contains("operationId getLiveness is used twice")), "{problems:#?}");
    assert!(
        problems
            .iter()
            .any(|p| p.contains("operationId get_twice at /api/twice/{twice_id} is not camelCase")),
        "{problems:#?}"
    );
    assert!(
        problems.iter().any(|p| p.contains("path parameter {twice_id} of /api/twice/{twice_id}")),
        "{problems:#?}"
    );
    assert!(problems.iter().any(|p| p.contains("NOBODY_DECLARES_THIS")), "{problems:#?}");
    assert!(
        problems.iter().any(|p| p.contains("schema RegisterRequest is defined differently")),
        "{problems:#?}"
    );
}

/// An axum path template as a concrete path (`{id}` → `x`) for matching host templates.
fn concrete(path: &str) -> String {
    path.split('/').map(|seg| if seg.starts_with('{') { "x" } else { seg }).collect::<Vec<_>>().join("/")
}

#[sqlx::test]
async fn every_api_route_is_reachable_through_a_function_and_documented_and_nothing_else(pool: PgPool) {
    let t = spawn(pool);
    let defs = Catalog::app().functions();
    for path in &t.api_paths {
        let rest = path.strip_prefix("/api/").unwrap_or_else(|| panic!("{path} is outside /api"));
        let reachable = defs.iter().any(|d| d.http_route_matches(&concrete(rest)));
        assert!(reachable, "{path} is served by the router but no function routes to it");
    }
    let mut routes: Vec<String> = t.api_paths.iter().map(|p| p.to_string()).collect();
    let mut documented: Vec<String> = Catalog::app().openapi().paths.paths.keys().cloned().collect();
    // The document and its page are not operations of the document.
    documented.extend(["/api/openapi.json".to_string(), "/api/docs".to_string()]);
    routes.sort();
    documented.sort();
    assert_eq!(routes, documented);
}

#[sqlx::test]
async fn every_schema_holding_a_user_id_has_a_data_part(pool: PgPool) {
    let schemas: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT table_schema::text FROM information_schema.columns \
         WHERE column_name = 'user_id' AND table_schema NOT IN ('pg_catalog', 'information_schema')",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert!(schemas.iter().any(|s| s == "users"), "the check found no schema at all: {schemas:?}");
    let parts: Vec<&str> = Catalog::app().data_parts().iter().map(|p| p.schema).collect();
    for schema in &schemas {
        assert!(
            parts.contains(&schema.as_str()) || schema == "events",
            "schema {schema} holds users' data but no domain exports and erases it"
        );
    }
}

#[test]
fn host_json_starts_the_handler_with_serve_and_invocations_stop_before_its_timeout() {
    let text = std::fs::read_to_string(root().join("host.json")).unwrap();
    let host: Value = serde_json::from_str(&text).unwrap();
    let ch = &host["customHandler"];
    assert_eq!(ch["description"]["defaultExecutablePath"], "healthsync");
    assert_eq!(ch["description"]["arguments"][0], "serve");
    assert_eq!(ch["enableForwardingHttpRequest"], true);
    assert_eq!(host["extensions"]["http"]["routePrefix"], "api");
    assert_eq!(host["extensions"]["serviceBus"]["autoCompleteMessages"], true);
    let timeout = host["functionTimeout"].as_str().unwrap();
    let secs: Vec<u64> = timeout.split(':').map(|p| p.parse().unwrap()).collect();
    assert_eq!(secs[0] * 3600 + secs[1] * 60 + secs[2], HOST_FUNCTION_TIMEOUT.as_secs(), "{timeout}");
    assert!(FUNCTION_TIMEOUT < HOST_FUNCTION_TIMEOUT);
}

// The worked example of docs/architecture.md: a throwaway domain with a route, a timer on a
// `%SETTING%`, a consumer, a setting and a data part. Listing it is all it takes.

mod throwaway {
    use super::*;

    pub const THROWAWAY_SCHEDULE: Setting =
        Setting::new("THROWAWAY_SCHEDULE", "when the throwaway timer runs").default("0 0 3 * * *");

    #[derive(Clone)]
    pub struct State {
        pub db: PgPool,
        pub verifier: Verifier,
    }

    impl axum::extract::FromRef<State> for Verifier {
        fn from_ref(s: &State) -> Verifier {
            s.verifier.clone()
        }
    }

    pub struct Domain;

    #[derive(serde::Serialize)]
    pub struct Pong {
        pub user: uuid::Uuid,
    }

    async fn ping(user: AuthUser) -> Success<Pong> {
        Success::new(Pong { user: user.id })
    }

    fn timer(state: State, _: InvocationRequest) -> InvokeFuture {
        Box::pin(async move {
            sqlx::query("INSERT INTO throwaway.notes (user_id, note) VALUES (gen_random_uuid(), 'timer')")
                .execute(&state.db)
                .await
                .map_err(anyhow::Error::from)?;
            Ok(InvocationResponse::default().returning(json!("ran")))
        })
    }

    fn consumer(state: State, req: InvocationRequest) -> InvokeFuture {
        Box::pin(async move {
            for msg in ServiceBusMessage::from_invocation(&req, MESSAGE_IN) {
                let user = msg.body["userId"].as_str().unwrap_or_default().to_string();
                sqlx::query("INSERT INTO throwaway.notes (user_id, note) VALUES ($1::uuid, 'event')")
                    .bind(user)
                    .execute(&state.db)
                    .await
                    .map_err(anyhow::Error::from)?;
            }
            Ok(InvocationResponse::default())
        })
    }

    impl DomainModule for Domain {
        type State = State;
        type Needs = Verifier;
        const NAME: &'static str = "throwaway";
        const SETTINGS: &'static [Setting] = &[THROWAWAY_SCHEDULE];

        fn state(platform: &Platform, verifier: Verifier) -> anyhow::Result<State> {
            Ok(State { db: platform.db.clone(), verifier })
        }

        fn routes() -> Routes<State> {
            Routes::new().route("/api/throwaway/ping", axum::routing::get(ping))
        }

        fn openapi() -> utoipa::openapi::OpenApi {
            use utoipa::openapi::{HttpMethod, path::OperationBuilder};
            let op = OperationBuilder::new().operation_id(Some("throwawayPing")).build();
            let mut doc = utoipa::openapi::OpenApi::default();
            doc.paths.add_path_operation("/api/throwaway/ping", vec![HttpMethod::Get], op);
            doc
        }

        fn functions() -> Vec<Function<State>> {
            vec![
                Function::http("Throwaway", "throwaway/{*path}", &["get"]),
                Function::timer("ThrowawayTimer", "%THROWAWAY_SCHEDULE%", timer),
                Function::service_bus(
                    "ThrowawayConsumer",
                    "throwaway-consumer",
                    &["user.registered"],
                    consumer,
                ),
            ]
        }

        fn data() -> Option<DataPart> {
            Some(DataPart {
                name: "throwaway",
                schema: "throwaway",
                export: |p, id| {
                    Box::pin(async move {
                        let notes: Vec<String> = sqlx::query_scalar(
                            "SELECT note FROM throwaway.notes WHERE user_id = $1 ORDER BY note",
                        )
                        .bind(id)
                        .fetch_all(&p.db)
                        .await?;
                        Ok(json!({ "notes": notes }))
                    })
                },
                erase: |conn, id| {
                    Box::pin(async move {
                        sqlx::query("DELETE FROM throwaway.notes WHERE user_id = $1")
                            .bind(id)
                            .execute(conn)
                            .await?;
                        Ok(())
                    })
                },
                cache_keys: |_| Vec::new(),
            })
        }
    }
}

#[sqlx::test]
async fn a_new_domain_joins_by_being_listed(pool: PgPool) {
    sqlx::query("CREATE SCHEMA throwaway").execute(&pool).await.unwrap();
    sqlx::query("CREATE TABLE throwaway.notes (user_id uuid NOT NULL, note text NOT NULL)")
        .execute(&pool)
        .await
        .unwrap();
    // One line: the crate root's list, plus the new domain.
    let listed = Module::<throwaway::Domain>::new();
    let domains: Vec<&dyn AnyDomain> = DOMAINS.iter().copied().chain([&listed as &dyn AnyDomain]).collect();
    let catalog = Catalog::new(&domains);
    assert!(catalog.problems().is_empty(), "{:?}", catalog.problems());

    // Generated: its function folders, the Bicep's subscription, timer and setting default, and
    // the README's settings table.
    let names: Vec<&str> = catalog.functions().iter().map(|f| f.name).collect();
    for name in ["Throwaway", "ThrowawayTimer", "ThrowawayConsumer"] {
        assert!(names.contains(&name), "{name} is not in the catalog");
    }
    let infra = generate::infra_catalog(&catalog);
    assert!(infra["timerFunctions"].as_array().unwrap().contains(&json!("ThrowawayTimer")));
    assert!(
        infra["serviceBusSubscriptions"]
            .as_array()
            .unwrap()
            .contains(&json!({"name": "throwaway-consumer", "function": "ThrowawayConsumer", "subjects": ["user.registered"]}))
    );
    assert_eq!(infra["appSettingDefaults"]["THROWAWAY_SCHEDULE"], "0 0 3 * * *");
    assert!(generate::settings_table(&catalog).contains("| `THROWAWAY_SCHEDULE` | `0 0 3 * * *` |"));
    assert!(catalog.defaults().contains(&("THROWAWAY_SCHEDULE", "0 0 3 * * *")), "the dev host's default");
    let json = catalog.functions().iter().find(|f| f.name == "ThrowawayTimer").unwrap().function_json();
    assert_eq!(json["bindings"][0]["schedule"], "%THROWAWAY_SCHEDULE%");
    assert!(matches!(
        catalog.functions().iter().find(|f| f.name == "ThrowawayConsumer").unwrap().trigger,
        Trigger::ServiceBus { subscription: "throwaway-consumer", .. }
    ));
    assert!(catalog.openapi().paths.paths.contains_key("/api/throwaway/ping"));

    // Served: its route behind the shared token verifier, its timer and consumer by invocation.
    // And its line in the wiring: what it needs from the others (here the token verifier).
    let app = TestApp::builder(pool.clone())
        .domains(&domains, |platform, wired| {
            Ok(vec![Module::<throwaway::Domain>::build(platform, wired.verifier.clone())?])
        })
        .settings(&[("DEV_LOGIN_ENABLED", "true")])
        .spawn();
    let u = app.sign_in("t@example.com").await;
    let user = u.id.clone();
    let pong = app.get(&u, "/api/throwaway/ping").await;
    assert_eq!(pong.status, StatusCode::OK, "{}", pong.text);
    assert_eq!(pong.body["data"]["user"], json!(user));
    assert_eq!(
        call(&app.router, Method::GET, "/api/throwaway/ping", None).await.status,
        StatusCode::UNAUTHORIZED
    );
    let ran =
        call(&app.router, Method::POST, "/ThrowawayTimer", Some(json!({"Data": {}, "Metadata": {}}))).await;
    assert_eq!(ran.body["ReturnValue"], "ran", "{}", ran.text);
    let delivery =
        json!({"Data": {"message": json!({"userId": user}).to_string()}, "Metadata": {"MessageId": "m-1"}});
    assert_eq!(
        call(&app.router, Method::POST, "/ThrowawayConsumer", Some(delivery)).await.status,
        StatusCode::OK
    );

    // Its data part: in the user's export, and gone with the account.
    let export = app.get(&u, "/api/users/me/export").await;
    assert_eq!(export.body["data"]["data"]["throwaway"]["notes"], json!(["event"]), "{}", export.text);
    let deleted = app.delete(&u, "/api/users/me").await;
    assert_eq!(deleted.status, StatusCode::OK, "{}", deleted.text);
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM throwaway.notes WHERE user_id = $1::uuid")
        .bind(&user)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(left, 0, "the erasure ran the new domain's part");
}
