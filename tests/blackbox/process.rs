//! Support for the black-box tests: the real `healthsync` binary in a child process whose output
//! goes to a log file, a fresh PostgreSQL database per test, an HTTP client for 127.0.0.1, and
//! bounded polling.
#![allow(dead_code)]

use std::{
    fs::File,
    path::PathBuf,
    process::{Child, Command, ExitStatus, Stdio},
    time::{Duration, Instant},
};

use sqlx::{Connection, PgConnection, PgPool, postgres::PgPoolOptions};

/// The binary under test, built by cargo for this test target.
pub const BIN: &str = env!("CARGO_BIN_EXE_healthsync");

/// The PostgreSQL server the tests create their databases on (`eval "$(scripts/services)"`).
pub fn server_url() -> String {
    std::env::var("DATABASE_URL")
        .ok()
        .filter(|u| !u.trim().is_empty())
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// A database of its own for one test, dropped (best effort) when the test ends, passed or not.
pub struct TestDb {
    pub name: String,
    pub url: String,
    admin_url: String,
}

impl TestDb {
    /// Creates `hs_bb_<uuid>` on the server of `DATABASE_URL`. It is empty: see [`TestDb::migrate`].
    pub async fn create() -> TestDb {
        let admin_url = server_url();
        let name = format!("hs_bb_{}", uuid::Uuid::new_v4().simple());
        let mut conn = PgConnection::connect(&admin_url).await.unwrap_or_else(|e| {
            panic!("connecting to {admin_url} (start the services: eval \"$(scripts/services)\"): {e}")
        });
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .expect("creating the test database");
        let _ = conn.close().await;
        let mut url = url::Url::parse(&admin_url).expect("DATABASE_URL is a URL");
        url.set_path(&format!("/{name}"));
        TestDb { name, url: url.to_string(), admin_url }
    }

    /// Applies the migrations with the binary's own `healthsync migrate`, as the deploy
    /// pipeline does.
    pub fn migrate(&self) {
        let out = Command::new(BIN)
            .arg("migrate")
            .env_clear()
            .env("DATABASE_URL", &self.url)
            .env("RUST_LOG", "warn")
            .current_dir(std::env::temp_dir())
            .stdin(Stdio::null())
            .output()
            .expect("running healthsync migrate");
        assert!(
            out.status.success(),
            "healthsync migrate failed ({}):\n{}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// A small pool on the test database, for the tests' own checks.
    pub async fn pool(&self) -> PgPool {
        PgPoolOptions::new()
            .max_connections(4)
            .acquire_timeout(Duration::from_secs(10))
            .connect(&self.url)
            .await
            .expect("connecting to the test database")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let (admin, name) = (self.admin_url.clone(), self.name.clone());
        // Drop runs inside the test's runtime; a runtime of its own needs a thread of its own.
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else {
                return;
            };
            rt.block_on(async {
                let connect = PgConnection::connect(&admin);
                if let Ok(Ok(mut conn)) = tokio::time::timeout(Duration::from_secs(5), connect).await {
                    let drop_db = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                    let _ = tokio::time::timeout(
                        Duration::from_secs(10),
                        sqlx::query(&drop_db).execute(&mut conn),
                    )
                    .await;
                    let _ = conn.close().await;
                }
            });
        })
        .join();
    }
}

/// A child process of the test with stdout and stderr in a log file. Dropping it kills it and
/// every process it started (the dev host's handler), also when the test fails.
pub struct Proc {
    child: Child,
    pub log: PathBuf,
    /// Printed with the log's tail when a test fails while this process is alive.
    pub name: &'static str,
}

impl Proc {
    pub fn spawn(name: &'static str, mut cmd: Command, log: PathBuf) -> Proc {
        let out = File::create(&log).expect("creating the log file");
        let err = out.try_clone().expect("sharing the log file");
        let child = cmd
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {BIN}: {e}"));
        Proc { child, log, name }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The exit status if the process has ended.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn log_tail(&self, lines: usize) -> String {
        let text = self.log_text();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "---- last lines of {} ({}) ----\n{}\n----",
                self.name,
                self.log.display(),
                self.log_tail(60)
            );
        }
        // Once reaped, its id may belong to someone else by now: signal nothing.
        if self.exited().is_some() {
            return;
        }
        // Stopped first, so that it cannot start another child while its children are killed.
        let pid = self.pid();
        signal(pid, "STOP");
        for child in descendants(pid) {
            signal(child, "KILL");
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends a signal (`KILL`, `STOP`, ...) to one process, by its id.
pub fn signal(pid: u32, sig: &str) -> bool {
    Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The parent and the state letter of a process, from `/proc/{pid}/stat`.
fn stat(pid: u32) -> Option<(u32, char)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may hold spaces: read after the last `)`.
    let mut rest = text[text.rfind(')')? + 1..].split_whitespace();
    let state = rest.next()?.chars().next()?;
    let ppid = rest.next()?.parse().ok()?;
    Some((ppid, state))
}

pub fn parent_pid(pid: u32) -> Option<u32> {
    stat(pid).map(|(ppid, _)| ppid)
}

/// Whether a process exists and is not a zombie.
pub fn is_alive(pid: u32) -> bool {
    stat(pid).is_some_and(|(_, state)| state != 'Z' && state != 'X')
}

/// Every process below `root`, children first.
pub fn descendants(root: u32) -> Vec<u32> {
    let mut parent_of = Vec::new();
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for entry in entries.flatten() {
            let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
                continue;
            };
            if let Some(ppid) = parent_pid(pid) {
                parent_of.push((pid, ppid));
            }
        }
    }
    let mut found: Vec<u32> = Vec::new();
    let mut frontier = vec![root];
    while let Some(p) = frontier.pop() {
        for &(child, ppid) in &parent_of {
            if ppid == p && !found.contains(&child) {
                found.push(child);
                frontier.push(child);
            }
        }
    }
    found
}

/// A loopback port nobody listens on right now.
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind(("127.0.0.1", 0)).expect("binding a free port");
    l.local_addr().expect("local address").port()
}

/// An HTTP client for 127.0.0.1 that ignores proxy settings and never waits forever.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .connect_timeout(Duration::from_secs(2))
        .timeout(Duration::from_secs(30))
        .build()
        .expect("building the HTTP client")
}

/// Runs `check` every `every` until it yields a value or `limit` has passed.
pub async fn eventually<T>(
    limit: Duration,
    every: Duration,
    mut check: impl AsyncFnMut() -> Option<T>,
) -> Option<T> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = check().await {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(every).await;
    }
}

/// How waiting for a process to answer `GET /` ended.
pub enum Startup {
    /// It answered, this long after it was started.
    Answered(Duration),
    Exited(ExitStatus),
    TimedOut,
}

/// Polls `GET {base}/` as the Functions host does, until any HTTP answer, the process ends, or
/// `limit` (the host's 30 s) passes.
pub async fn wait_until_answers(
    proc: &mut Proc,
    client: &reqwest::Client,
    base: &str,
    started: Instant,
    limit: Duration,
) -> Startup {
    let deadline = started + limit;
    while Instant::now() < deadline {
        let ping = client.get(format!("{base}/")).timeout(Duration::from_millis(500)).send();
        if ping.await.is_ok() {
            return Startup::Answered(started.elapsed());
        }
        if let Some(status) = proc.exited() {
            return Startup::Exited(status);
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Startup::TimedOut
}

/// Sends `request` (a whole HTTP/1.1 request, head and body, written as given: no client
/// normalises its path) to 127.0.0.1:`port` and returns the status and the body of the answer.
pub async fn raw_request(port: u16, request: &[u8]) -> (u16, String) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.expect("connecting");
    stream.write_all(request).await.expect("writing the request");
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer)).await;
    assert!(read.is_ok(), "no answer within 10 s");
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    (status, body)
}

/// The peak resident memory (`VmHWM`) of a process, in KiB.
pub fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("reading /proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM")
}
