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
            host::serve::serve(app.router, port).await
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
