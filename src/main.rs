//! The `healthsync` command: parses the command line and hands over to `app::commands`.

use std::{path::PathBuf, process::ExitCode};

use clap::{Parser, Subcommand};
use healthsync::app::commands;

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
        Command::Serve => commands::serve().await,
        Command::Dev { port } => commands::dev(port).await,
        Command::Migrate => commands::migrate().await,
        Command::ImportNhis { files } => commands::import_nhis(&files).await,
        Command::ReplayDlq { function, since } => commands::replay_dlq(function, since).await,
        Command::AiCheck => commands::ai_check().await,
        Command::Generate { write, root } => commands::generate(write, &root),
    }
}
