//! `healthsync dev`: a local Functions host. It reads `local.settings.json` like `func start`,
//! starts the handler as a child process and speaks the real protocol to it over loopback:
//! HTTP on :7071 forwarded at the original path, timers on their schedules, Service Bus
//! deliveries through `POST /{FunctionName}`. Azure services it is not configured for are
//! replaced by local stand-ins (DESIGN.md §4).

pub mod front;
pub mod handler;
pub mod postgres;
pub mod queue;
pub mod timers;

use std::{collections::HashMap, path::PathBuf, sync::Arc};

use anyhow::{Context, bail};
use tokio::sync::Notify;

use crate::{
    config::{self, BlobConfig, Config, Environment},
    functions::{self, FunctionDef},
    platform::{blob::AzureBlobStore, db, telemetry},
};

pub struct DevOptions {
    /// The public port (7071 like `func start`).
    pub port: u16,
    /// Where `local.settings.json` is and `.healthsync/` goes.
    pub project_dir: PathBuf,
    /// Every function of the app: what the front routes, the timers fire and the queue delivers.
    pub functions: Vec<FunctionDef>,
    /// Each setting's default, given to the handler when neither `local.settings.json` nor the
    /// environment sets it (timer schedules named `%SETTING%` resolve from these too).
    pub defaults: Vec<(&'static str, &'static str)>,
}

/// `Values` of `local.settings.json`, overridden by the process environment.
pub fn load_settings(project_dir: &std::path::Path) -> anyhow::Result<HashMap<String, String>> {
    let mut settings = HashMap::new();
    let path = project_dir.join("local.settings.json");
    if path.exists() {
        let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
        let doc: serde_json::Value =
            serde_json::from_str(&text).with_context(|| format!("{} is not valid JSON", path.display()))?;
        if let Some(values) = doc.get("Values").and_then(|v| v.as_object()) {
            for (k, v) in values {
                let v = match v {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                settings.insert(k.clone(), v);
            }
        }
    }
    for (k, v) in std::env::vars() {
        if !v.is_empty() {
            settings.insert(k, v);
        }
    }
    Ok(settings)
}

pub async fn run(opts: DevOptions) -> anyhow::Result<()> {
    let mut settings = load_settings(&opts.project_dir)?;
    for (name, value) in &opts.defaults {
        settings.entry(name.to_string()).or_insert_with(|| value.to_string());
    }
    if config::detect_environment(&settings) == Environment::Azure {
        bail!("`healthsync dev` is the local host; in Azure the Functions host runs `healthsync serve`");
    }
    let mut private_pg = None;
    if !settings.contains_key(config::settings::DATABASE_URL.name) {
        let cluster = postgres::cluster_location(&opts.project_dir)?;
        let port = match settings.get(config::settings::DEV_PG_PORT.name) {
            Some(_) => config::settings::DEV_PG_PORT.number(&settings, "a TCP port", 1024..=65535)?,
            None => cluster.port,
        };
        let dir = cluster.dir;
        let pg = tokio::task::spawn_blocking(move || postgres::LocalPostgres::ensure(&dir, port)).await??;
        postgres::ensure_database(pg.port).await?;
        println!("PostgreSQL: private cluster in {} on 127.0.0.1:{}", pg.dir.display(), pg.port);
        settings.insert(config::settings::DATABASE_URL.name.into(), pg.url());
        private_pg = Some(pg);
    }
    if !settings.contains_key(config::settings::BLOB_CONTAINER_URL.name) {
        let blobs = opts.project_dir.join(".healthsync/blobs").to_string_lossy().to_string();
        let dir = settings.entry(config::settings::BLOB_DIR.name.into()).or_insert(blobs);
        if std::path::Path::new(dir.as_str()).is_relative() {
            *dir = opts.project_dir.join(&*dir).to_string_lossy().to_string();
        }
    }
    let result = host(&opts, settings).await;
    if let Some(pg) = private_pg.filter(|pg| pg.started_by_us) {
        pg.stop();
    }
    result
}

async fn host(opts: &DevOptions, settings: HashMap<String, String>) -> anyhow::Result<()> {
    let config = Config::from_source(&settings).context("reading the settings")?;
    let pool = db::lazy_pool(&config)?;
    // Migrations run automatically only here, in local dev.
    db::migrate(&pool).await?;
    if let BlobConfig::Azure { container_url } = &config.blob {
        AzureBlobStore::new(container_url, None)?.ensure_container().await?;
    }
    let mut env: Vec<(String, String)> = settings.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    // The handler logs in the host's format, so the console reads as one.
    if !settings.contains_key(telemetry::LOG_FORMAT.name) {
        env.push((telemetry::LOG_FORMAT.name.into(), telemetry::LogFormat::for_stdout().as_str().into()));
    }
    let handler = handler::start(env).await?;
    timers::start(handler.clone(), &opts.functions, |name| settings.get(name).cloned())?;
    let wake = Arc::new(Notify::new());
    tokio::spawn(queue::run_relay(pool.clone(), functions::subscriptions(&opts.functions), wake.clone()));
    tokio::spawn(queue::run_delivery(pool.clone(), handler.clone(), wake, queue::Redelivery::default()));

    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], opts.port));
    let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| format!("binding {addr}"))?;
    let port = listener.local_addr()?.port();
    println!(
        "HealthSync local Functions host: http://127.0.0.1:{port}/api  (docs: http://127.0.0.1:{port}/api/docs)"
    );
    println!(
        "  cache: {}, blobs: {}",
        if config.redis_url.is_some() { "Redis" } else { "in-process" },
        match &config.blob {
            BlobConfig::Folder(d) => d.display().to_string(),
            BlobConfig::Azure { .. } => "Azure Blob (BLOB_CONTAINER_URL)".into(),
        }
    );
    // Functions with authLevel `function` demand this key, as the real host does.
    let function_key = match settings.get(front::FUNCTION_KEY_SETTING) {
        Some(k) => k.clone(),
        None => {
            let k = uuid::Uuid::new_v4().simple().to_string();
            println!("  function key (x-functions-key, for operators' functions): {k}");
            k
        }
    };
    let front = front::router(handler.clone(), opts.functions.clone(), &function_key);
    let served = crate::host::http_server::serve(
        listener,
        front,
        crate::host::http_server::HEADER_READ_TIMEOUT,
        crate::host::serve::shutdown_signal(),
    )
    .await
    .context("serving the local host");
    handler.stop();
    // Give the supervisor a moment to end the child before the runtime goes away.
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    served
}
