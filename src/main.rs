//! The `healthsync` command: parses the command line, reads configuration, sets up tracing and
//! hands over to the library.

use std::{path::PathBuf, process::ExitCode};

use anyhow::Context;
use clap::{Parser, Subcommand};
use healthsync::{
    AppState,
    config::{self, Config},
    host::{self, registry},
    platform::{db, telemetry},
};

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
    /// Write or check `functions/<Name>/function.json` from the function registry.
    Functions {
        #[arg(long, conflicts_with = "check")]
        write: bool,
        #[arg(long)]
        check: bool,
        #[arg(long, default_value = "functions")]
        dir: PathBuf,
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
            telemetry::init_json();
            let port = config::handler_port(&config::ProcessEnv)?;
            let state = AppState::from_config(Config::from_env()?)?;
            host::serve::serve(state, port).await
        }
        Command::Dev { port } => {
            telemetry::init_pretty();
            let project_dir = std::env::current_dir().context("reading the current folder")?;
            host::local::run(host::local::DevOptions { port, project_dir }).await
        }
        Command::Migrate => {
            telemetry::init_pretty();
            let config = Config::from_env()?;
            let pool = db::lazy_pool(&config)?;
            db::migrate(&pool).await?;
            println!("migrations applied");
            Ok(())
        }
        Command::Functions { write, check, dir } => {
            let stale = registry::sync_folders(&dir, write)?;
            if stale.is_empty() {
                println!("functions/ matches the registry");
                Ok(())
            } else if write {
                println!("wrote: {}", stale.join(", "));
                Ok(())
            } else {
                let _ = check;
                anyhow::bail!(
                    "functions/ differs from the registry: {} (run `healthsync functions --write`)",
                    stale.join(", ")
                )
            }
        }
    }
}
