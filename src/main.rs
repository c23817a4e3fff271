//! The `healthsync` command: parses the command line, reads configuration, sets up tracing and
//! hands over to the library.

use std::{path::PathBuf, process::ExitCode, sync::Arc};

use anyhow::Context;
use clap::{Parser, Subcommand};
use healthsync::{
    app::{self, App, Catalog},
    config::{self, Config, ProcessEnv},
    host,
    platform::{
        db,
        telemetry::{self, LogFormat},
    },
};

// The static (musl) build ships to Azure; musl's own malloc costs ~5x the CPU per request, so it
// gets mimalloc (settings and measurements: docs/decisions.md, bench/README.md). The glibc
// build (tests, `healthsync dev`) keeps glibc's allocator.
#[cfg(target_env = "musl")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "healthsync",
    version,
    about = "HealthSync Functions: the custom handler and its local host"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve as the custom handler (the Functions host runs this).
    Serve,
    /// Run the whole app locally: a local Functions host on :7071 with local stand-ins.
    Dev {
        #[arg(long, default_value_t = 7071)]
        port: u16,
    },
    /// Apply database migrations (the deploy pipeline runs this).
    Migrate,
    /// Load NHIS open-data CSVs (CP949 or UTF-8, zipped or not) into the population reference
    /// and compute its percentiles. Re-importing a year replaces it.
    ImportNhis {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Re-publish dead-lettered events: locally from `events.dead_letters` to the local queue; in
    /// Azure from every subscription's dead-letter queue (and the recorded ones) to the topic.
    ReplayDlq {
        /// Only this consuming function's dead letters (e.g. MotivatorNudgeSlice).
        #[arg(long)]
        function: Option<String>,
        /// Only dead letters since: an RFC 3339 instant, a date, or an age like 6h or 2d.
        #[arg(long)]
        since: Option<String>,
    },
    /// One real Claude call with the configured key and model (ANTHROPIC_*), for an operator after
    /// a deploy: prints the model's lifecycle and what came back. Spends a few tokens.
    AiCheck,
    /// Check (default) or rewrite the files generated from the domain list: `functions/`,
    /// `infra/catalog.json` and the settings table of README.md.
    Generate {
        #[arg(long)]
        write: bool,
        /// The project folder.
        #[arg(long, default_value = ".")]
        root: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("error: starting the runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!(error = format!("{err:#}"), "exiting");
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve => {
            telemetry::init(LogFormat::from_source(&ProcessEnv));
            let port = config::handler_port(&ProcessEnv)?;
            let app = App::from_source(Arc::new(ProcessEnv))?;
            let warmup = db::warm_up(app.platform.db.clone());
            // The safety guard's model learns its corpus once (a fraction of a second), before
            // the first chat message rather than during it; on a thread of its own that an exit
            // (a port already taken, say) does not wait for, as the runtime would for a blocking task.
            std::thread::Builder::new()
                .name("safety-model".into())
                .spawn(healthsync::intelligence::safety::model::warm)
                .context("starting the safety model's training")?;
            let router =
                host::serve::after_warmup(app.router, warmup, app.platform.config.db_acquire_timeout);
            host::serve::serve(router, port).await
        }
        Command::Dev { port } => {
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
        Command::Migrate => {
            telemetry::init(LogFormat::for_stdout());
            let config = Config::from_env()?;
            let pool = db::lazy_pool(&config)?;
            db::migrate_for(&pool, &config).await?;
            println!("migrations applied");
            Ok(())
        }
        Command::ImportNhis { files } => {
            telemetry::init(LogFormat::for_stdout());
            let config = Config::from_env()?;
            let pool = db::lazy_pool(&config)?;
            let progress = std::io::IsTerminal::is_terminal(&std::io::stderr());
            for report in
                healthsync::health::population::import::import_files(&pool, &files, progress).await?
            {
                println!("{}", report.summary());
                for example in &report.bad_examples {
                    println!("  bad row: {example}");
                }
            }
            Ok(())
        }
        Command::ReplayDlq { function, since } => {
            telemetry::init(LogFormat::for_stdout());
            replay_dlq(function, since).await
        }
        Command::AiCheck => {
            let config = healthsync::platform::ai::ClaudeConfig::from_source(&ProcessEnv)?;
            for line in healthsync::platform::ai::check::run(config).await? {
                println!("{line}");
            }
            Ok(())
        }
        Command::Generate { write, root } => {
            let catalog = Catalog::app();
            let problems = catalog.problems();
            anyhow::ensure!(
                problems.is_empty(),
                "the domain declarations are inconsistent:\n{}",
                problems.join("\n")
            );
            let stale = app::generate::sync(&catalog, &root, write)?;
            match (stale.is_empty(), write) {
                (true, _) => println!("generated files are up to date"),
                (false, true) => println!("wrote: {}", stale.join(", ")),
                (false, false) => anyhow::bail!(
                    "generated files are stale: {} (run `healthsync generate --write`)",
                    stale.join(", ")
                ),
            }
            Ok(())
        }
    }
}

/// `healthsync replay-dlq`: counts what it replays, with a progress bar on a terminal.
async fn replay_dlq(function: Option<String>, since: Option<String>) -> anyhow::Result<()> {
    use healthsync::{
        functions::Trigger,
        platform::bus::{EVENTS_TOPIC, replay},
    };
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
            let credential = healthsync::platform::entra::operator_credential(
                config.managed_identity_client_id.as_deref(),
            )?;
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
