//! What each `healthsync` command does, for `main.rs` (which only parses the command line): serve
//! the handler, run the local host, migrate, import the NHIS open data, replay dead letters, check
//! the Claude key and model, and check or rewrite the generated files.

use std::{path::PathBuf, sync::Arc};

use anyhow::Context;

use super::{App, Catalog};
use crate::{
    config::{self, Config, ProcessEnv},
    functions::Trigger,
    host,
    platform::{
        bus::{EVENTS_TOPIC, replay},
        db,
        telemetry::{self, LogFormat},
    },
};

/// `healthsync serve`: the custom handler, as the Functions host runs it.
pub async fn serve() -> anyhow::Result<()> {
    telemetry::init(LogFormat::from_source(&ProcessEnv));
    let port = config::handler_port(&ProcessEnv)?;
    let settings: Arc<dyn config::Source> = Arc::new(ProcessEnv);
    let config = Config::from_source(settings.as_ref())?;
    let pool = db::lazy_pool(&config)?;
    // The first connection opens (on a worker) while this thread composes the app.
    let warmup = db::warm_up(pool.clone());
    let app = App::compose(crate::DOMAINS, config, settings, pool)?;
    // The safety guard's model learns its corpus once (a fraction of a second), before the first
    // chat message rather than during it; on a thread of its own that an exit (a port already
    // taken, say) does not wait for, as the runtime would for a blocking task. At the lowest CPU
    // priority: it runs when nothing else wants the CPU, so a new instance's first requests (and
    // its first database connection, TLS and all) do not wait behind it.
    std::thread::Builder::new()
        .name("safety-model".into())
        .spawn(|| {
            lowest_cpu_priority();
            crate::intelligence::api::warm_safety_model();
        })
        .context("starting the safety model's training")?;
    let router = host::serve::after_warmup(app.router, warmup, app.platform.config.db_acquire_timeout);
    host::serve::serve(router, port).await
}

/// Puts the calling thread last in line for the CPU (nice 19: on Linux a thread's own setting).
fn lowest_cpu_priority() {
    // SAFETY: setpriority(2) only reads its arguments; `who` 0 is the calling thread.
    let failed = unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, 19) } != 0;
    if failed {
        tracing::debug!("could not lower the thread's CPU priority");
    }
}

/// `healthsync dev`: the whole app behind a local Functions host with local stand-ins.
pub async fn dev(port: u16) -> anyhow::Result<()> {
    telemetry::init(LogFormat::for_stdout());
    let catalog = Catalog::app();
    let project_dir = std::env::current_dir().context("reading the current folder")?;
    let opts = host::local::DevOptions {
        port,
        project_dir,
        functions: catalog.functions(),
        defaults: catalog.defaults(),
    };
    host::local::run(opts).await
}

/// `healthsync migrate`.
pub async fn migrate() -> anyhow::Result<()> {
    telemetry::init(LogFormat::for_stdout());
    let config = Config::from_env()?;
    let pool = db::lazy_pool(&config)?;
    db::migrate_for(&pool, &config).await?;
    println!("migrations applied");
    Ok(())
}

/// `healthsync import-nhis`: each file's summary and a few bad rows.
pub async fn import_nhis(files: &[PathBuf]) -> anyhow::Result<()> {
    telemetry::init(LogFormat::for_stdout());
    let config = Config::from_env()?;
    let pool = db::lazy_pool(&config)?;
    let progress = std::io::IsTerminal::is_terminal(&std::io::stderr());
    for report in crate::health::population::import::import_files(&pool, files, progress).await? {
        println!("{}", report.summary());
        for example in &report.bad_examples {
            println!("  bad row: {example}");
        }
    }
    Ok(())
}

/// `healthsync ai-check`: one real Claude call with the configured key and model.
pub async fn ai_check() -> anyhow::Result<()> {
    let config = crate::platform::ai::ClaudeConfig::from_source(&ProcessEnv)?;
    for line in crate::platform::ai::check::run(config).await? {
        println!("{line}");
    }
    Ok(())
}

/// `healthsync generate [--write]`: checks (or rewrites) the files generated from the domain list.
pub fn generate(write: bool, root: &std::path::Path) -> anyhow::Result<()> {
    let catalog = Catalog::app();
    let problems = catalog.problems();
    anyhow::ensure!(
        problems.is_empty(),
        "the domain declarations are inconsistent:\n{}",
        problems.join("\n")
    );
    let stale = super::generate::sync(&catalog, root, write)?;
    match (stale.is_empty(), write) {
        (true, _) => println!("generated files are up to date"),
        (false, true) => println!("wrote: {}", stale.join(", ")),
        (false, false) => {
            anyhow::bail!(
                "generated files are stale: {} (run `healthsync generate --write`)",
                stale.join(", ")
            )
        }
    }
    Ok(())
}

/// `healthsync replay-dlq`: counts what it replays, with a progress bar on a terminal.
pub async fn replay_dlq(function: Option<String>, since: Option<String>) -> anyhow::Result<()> {
    telemetry::init(LogFormat::for_stdout());
    let config = Config::from_env()?;
    let pool = db::lazy_pool(&config)?;
    let now = chrono::Utc::now();
    let since = since.map(|s| replay::parse_since(&s, now)).transpose()?;
    let consumers: Vec<(&'static str, &'static str)> = Catalog::app()
        .functions()
        .iter()
        .filter_map(|d| match d.trigger {
            Trigger::ServiceBus { subscription, .. } => Some((d.name, subscription)),
            _ => None,
        })
        .collect();
    if let Some(f) = &function {
        anyhow::ensure!(
            consumers.iter().any(|(name, _)| name.eq_ignore_ascii_case(f)),
            "no Service Bus-triggered function is called {f} (there are: {})",
            consumers.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
        );
    }
    let filter = replay::Filter { function, since };
    let rows = replay::recorded(&pool, &filter).await?;
    let bar = if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        indicatif::ProgressBar::new(rows.len() as u64)
    } else {
        indicatif::ProgressBar::hidden()
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} {pos}/{len} replayed {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let tick = || bar.inc(1);
    let mut total = replay::Report::default();
    match &config.service_bus_namespace {
        None => {
            bar.set_message("(local queue)");
            for dl in &rows {
                if replay::requeue_local(&pool, dl).await? {
                    total.replayed += 1;
                    tick();
                } else {
                    total.left += 1;
                }
            }
        }
        Some(ns) => {
            let base = match &config.service_bus_endpoint {
                Some(b) => b.clone(),
                None => url::Url::parse(&format!("https://{}/", ns.trim_end_matches('/')))
                    .context("ServiceBusConnection__fullyQualifiedNamespace is not a host name")?,
            };
            // In Azure the managed identity; on an operator's machine their `az login`.
            let credential =
                crate::platform::entra::operator_credential(config.managed_identity_client_id.as_deref())?;
            let sb = replay::ServiceBusReplay::new(base, EVENTS_TOPIC, credential);
            bar.set_message("(recorded)");
            let r = replay::replay_recorded_to_topic(&pool, &sb, &rows, now, &tick).await?;
            total.replayed += r.replayed;
            total.left += r.left;
            for (name, subscription) in &consumers {
                if filter.function.as_deref().is_some_and(|f| !f.eq_ignore_ascii_case(name)) {
                    continue;
                }
                bar.set_message(format!("({subscription} dead-letter queue)"));
                let r = replay::replay_queue(&sb, name, subscription, &filter, now, &tick).await?;
                total.replayed += r.replayed;
                total.left += r.left;
                total.stopped += r.stopped;
            }
        }
    }
    bar.finish_and_clear();
    println!(
        "replayed {} dead-lettered message(s); {} left (too recent for the topic's duplicate detection, or no body)",
        total.replayed, total.left
    );
    if total.stopped > 0 {
        println!(
            "{} dead-letter queue pass(es) ended at a message left in place (older than --since, too recent or without an id): \
             what is behind it was not reached; run again later, or without --since",
            total.stopped
        );
    }
    Ok(())
}
