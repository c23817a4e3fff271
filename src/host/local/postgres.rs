//! A private PostgreSQL cluster for `healthsync dev` when `DATABASE_URL` is not set: created with
//! the system's `initdb` in a folder under the project, started with `pg_ctl`, reused next time.
//! `initdb` and `postgres` refuse to run as root, so as root they run as the `postgres` account.

use std::{
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{Context, bail};

pub struct LocalPostgres {
    pub dir: PathBuf,
    pub port: u16,
    bin: PathBuf,
    run_as: Option<String>,
    pub started_by_us: bool,
}

/// Finds `pg_ctl` and `initdb`: on PATH, else in Debian's versioned folders (newest first).
fn find_bin_dir() -> Option<PathBuf> {
    let on_path =
        std::env::var_os("PATH").into_iter().flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>());
    for dir in on_path {
        if dir.join("pg_ctl").is_file() && dir.join("initdb").is_file() {
            return Some(dir);
        }
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|d| d.join("pg_ctl").is_file())
        .collect();
    versions.sort();
    versions.pop()
}

/// Where a checkout's private cluster lives, and its port when none is configured.
pub struct ClusterLocation {
    pub dir: PathBuf,
    pub port: u16,
}

/// The checkout's own cluster: in `.healthsync/postgres` of the checkout; as root (when PostgreSQL
/// runs as the `postgres` account, which usually cannot enter a checkout under `/root`) in
/// `/var/tmp/healthsync-dev/<checkout hash>/postgres`. The port is derived from the same hash.
/// Both are keyed by the checkout's canonical path, so two checkouts never share a cluster.
pub fn cluster_location(project_dir: &Path) -> anyhow::Result<ClusterLocation> {
    use sha2::Digest as _;
    let canonical = project_dir.canonicalize().context("resolving the project folder")?;
    let digest = sha2::Sha256::digest(canonical.to_string_lossy().as_bytes());
    let key: String = digest[..6].iter().map(|b| format!("{b:02x}")).collect();
    let port = 54330 + (u16::from_be_bytes([digest[6], digest[7]]) % 1000);
    let dir = if is_root() {
        let base = PathBuf::from("/var/tmp/healthsync-dev");
        std::fs::create_dir_all(&base).with_context(|| format!("creating {}", base.display()))?;
        base.join(key).join("postgres")
    } else {
        canonical.join(".healthsync/postgres")
    };
    Ok(ClusterLocation { dir, port })
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().map(|o| o.stdout.starts_with(b"0\n")).unwrap_or(false)
}

impl LocalPostgres {
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/healthsync", self.port)
    }

    fn cmd(&self, tool: &str) -> Command {
        let exe = self.bin.join(tool);
        match &self.run_as {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.arg("-u").arg(user).arg("--").arg(exe);
                c
            }
            None => Command::new(exe),
        }
    }

    fn run(&self, tool: &str, args: &[&str], what: &str) -> anyhow::Result<()> {
        let out = self.cmd(tool).args(args).output().with_context(|| format!("running {tool}"))?;
        if !out.status.success() {
            bail!("{what} failed: {}", String::from_utf8_lossy(&out.stderr).trim());
        }
        Ok(())
    }

    /// Creates the cluster if needed and starts it if it is not running.
    pub fn ensure(dir: &Path, port: u16) -> anyhow::Result<Self> {
        let Some(bin) = find_bin_dir() else {
            bail!(
                "DATABASE_URL is not set and no PostgreSQL server binaries (initdb, pg_ctl) were found.\n\
                 Install them (Debian/Ubuntu: `apt-get install postgresql`; macOS: `brew install postgresql`)\n\
                 or set DATABASE_URL to an existing database."
            );
        };
        let run_as = is_root().then(|| "postgres".to_string());
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let dir = dir.canonicalize().context("resolving the cluster folder")?;
        if let Some(user) = &run_as {
            let ok = Command::new("chown")
                .arg("-R")
                .arg(user)
                .arg(&dir)
                .status()
                .map(|s| s.success())
                .unwrap_or(false);
            if !ok {
                bail!(
                    "running as root, the cluster folder must belong to the `{user}` account (chown failed)"
                );
            }
        }
        let mut pg = LocalPostgres { dir: dir.clone(), port, bin, run_as, started_by_us: false };
        let d = dir.to_string_lossy().to_string();
        if !dir.join("PG_VERSION").exists() {
            tracing::info!(folder = %d, "creating a private PostgreSQL cluster");
            pg.run(
                "initdb",
                &["-D", &d, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C"],
                "initdb",
            )?;
        }
        let running =
            pg.cmd("pg_ctl").args(["status", "-D", &d]).output().map(|o| o.status.success()).unwrap_or(false);
        if !running {
            let opts = format!("-p {port} -k {d} -c listen_addresses=127.0.0.1");
            let log = dir.join("server.log").to_string_lossy().to_string();
            pg.run(
                "pg_ctl",
                &["start", "-w", "-t", "30", "-D", &d, "-l", &log, "-o", &opts],
                "starting PostgreSQL",
            )
            .with_context(|| format!("see {log}"))?;
            pg.started_by_us = true;
        }
        tracing::info!(folder = %d, port, "private PostgreSQL cluster is running");
        Ok(pg)
    }

    pub fn stop(&self) {
        let d = self.dir.to_string_lossy().to_string();
        if let Err(err) = self.run("pg_ctl", &["stop", "-m", "fast", "-D", &d], "stopping PostgreSQL") {
            tracing::warn!(error = %err, "could not stop the private cluster");
        }
    }
}

/// Creates the `healthsync` database in the private cluster if it is missing.
pub async fn ensure_database(port: u16) -> anyhow::Result<()> {
    use sqlx::Connection;
    let admin = format!("postgres://postgres@127.0.0.1:{port}/postgres");
    let mut conn = sqlx::PgConnection::connect(&admin).await.context("connecting to the private cluster")?;
    let exists = sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'healthsync') AS "exists!""#
    )
    .fetch_one(&mut conn)
    .await?;
    if !exists {
        sqlx::query!("CREATE DATABASE healthsync")
            .execute(&mut conn)
            .await
            .context("creating the database")?;
    }
    Ok(())
}
