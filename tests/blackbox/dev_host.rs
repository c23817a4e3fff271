//! Black-box tests of `healthsync dev`, the local Functions host: the built binary with a fresh
//! database, reached over HTTP like `func start`. It starts `healthsync serve` as its child,
//! fires timers, relays the outbox and delivers events through the invocation protocol; these
//! tests check that heartbeats flow end to end, and that killing the handler in the middle of
//! a delivery burst loses nothing and applies nothing twice.

use std::{
    collections::HashSet,
    process::Command,
    time::{Duration, Instant},
};

use crate::process::{BIN, Proc, TestDb, eventually};
use futures::StreamExt as _;
use reqwest::StatusCode;
use serde_json::Value;
use sqlx::PgPool;

/// A schedule that does not fire while a test runs: midnight UTC on the first of January.
pub(crate) const NEVER: &str = "0 0 0 1 1 *";

pub(crate) struct DevHost {
    pub(crate) proc: Proc,
    pub(crate) base: String,
    pub(crate) client: reqwest::Client,
    started: Instant,
    _dir: tempfile::TempDir,
}

impl DevHost {
    /// Starts `healthsync dev --port 0` in an empty folder (no local.settings.json: the
    /// environment is the whole configuration) and waits for the address it prints.
    pub(crate) async fn start(db: &TestDb, schedule: &str) -> DevHost {
        Self::start_with(db, schedule, &[]).await
    }

    pub(crate) async fn start_with(db: &TestDb, schedule: &str, extra: &[(&str, &str)]) -> DevHost {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut cmd = Command::new(BIN);
        cmd.args(["dev", "--port", "0"])
            .env_clear()
            .current_dir(dir.path())
            .env("DATABASE_URL", &db.url)
            .env("HEARTBEAT_SCHEDULE", schedule)
            // The outbox sweep runs beside the local host's own relay: both must be safe at once.
            .env("OUTBOX_RELAY_SCHEDULE", "*/1 * * * * *")
            .env("BLOB_DIR", dir.path().join("blobs"))
            // The handler inherits this: no line per successful invocation.
            .env("RUST_LOG", "info,sqlx=warn,healthsync::host::invoke=warn");
        for (k, v) in extra {
            cmd.env(k, v);
        }
        let started = Instant::now();
        let mut proc = Proc::spawn("healthsync dev", cmd, dir.path().join("dev.log"));
        // Printed once migrations ran, the handler answered and the public port is bound.
        const MARK: &str = "Functions host: http://127.0.0.1:";
        let port = eventually(Duration::from_secs(30), Duration::from_millis(20), async || {
            if let Some(status) = proc.exited() {
                panic!("healthsync dev exited ({status}):\n{}", proc.log_tail(40));
            }
            let log = proc.log_text();
            let rest = &log[log.find(MARK)? + MARK.len()..];
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            digits.parse::<u16>().ok()
        })
        .await
        .unwrap_or_else(|| panic!("healthsync dev did not come up in 30 s:\n{}", proc.log_tail(40)));
        DevHost {
            proc,
            base: format!("http://127.0.0.1:{port}"),
            client: crate::process::client(),
            started,
            _dir: dir,
        }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// `GET /admin/host/status`, or `None` when it cannot be read right now.
    pub(crate) async fn status(&self) -> Option<Value> {
        let res = self.client.get(self.url("/admin/host/status")).send().await.ok()?;
        res.json().await.ok()
    }

    pub(crate) async fn handler_pid(&self) -> u32 {
        let status = self.status().await.expect("host status");
        let pid = status["handlerPid"].as_u64().expect("handlerPid") as u32;
        assert!(pid > 0, "{status}");
        pid
    }

    /// Records a heartbeat through the host's public HTTP side and returns its id.
    async fn post_heartbeat(&self) -> String {
        let res = self
            .client
            .post(self.url("/api/system/heartbeats"))
            .send()
            .await
            .expect("POST /api/system/heartbeats");
        let status = res.status();
        let body: Value = res.json().await.unwrap_or(Value::Null);
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["data"]["id"].as_str().expect("heartbeat id").to_string()
    }

    async fn tallied_count(&self, id: &str) -> Option<i64> {
        let url = self.url(&format!("/api/system/heartbeats/{id}"));
        let res = self.client.get(url).send().await.ok()?;
        if res.status() != StatusCode::OK {
            return None;
        }
        let body: Value = res.json().await.ok()?;
        body["data"]["talliedCount"].as_i64()
    }

    /// `(recorded, tallied)` for one source, from `GET /api/system/heartbeats`.
    async fn summary(&self, source: &str) -> Option<(i64, i64)> {
        let res = self.client.get(self.url("/api/system/heartbeats")).send().await.ok()?;
        let body: Value = res.json().await.ok()?;
        let row = body["data"].as_array()?.iter().find(|r| r["source"] == source)?.clone();
        Some((row["recorded"].as_i64()?, row["tallied"].as_i64()?))
    }
}

async fn scalar(pool: &PgPool, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.unwrap_or_else(|e| panic!("{sql}: {e}"))
}

async fn tallied(pool: &PgPool) -> i64 {
    scalar(pool, "SELECT count(*) FROM ops.heartbeats WHERE tallied_count > 0").await
}

#[tokio::test(flavor = "multi_thread")]
async fn the_timer_fires_on_its_schedule_and_every_timer_heartbeat_is_tallied_once() {
    let db = TestDb::create().await;
    let dev = DevHost::start(&db, "*/1 * * * * *").await;
    let pool = db.pool().await;

    let mut last = None;
    let (recorded, tallied) = eventually(Duration::from_secs(30), Duration::from_millis(50), async || {
        last = dev.summary("timer").await;
        let (recorded, tallied) = last?;
        (recorded >= 2 && tallied == recorded).then_some((recorded, tallied))
    })
    .await
    .unwrap_or_else(|| panic!("timer heartbeats not fired and tallied within 30 s: {last:?}"));
    // Every second, not more often.
    let seconds = dev.started.elapsed().as_secs() as i64;
    assert!(recorded <= seconds + 1, "{recorded} timer runs in {seconds} s");
    assert_eq!(tallied, recorded);

    let applied_twice = "SELECT count(*) FROM ops.heartbeats WHERE tallied_count > 1";
    assert_eq!(scalar(&pool, applied_twice).await, 0);
    // The timer's heartbeats were delivered through the same outbox and consumer.
    let processed =
        scalar(&pool, "SELECT count(*) FROM events.processed_messages WHERE consumer = 'HeartbeatTally'")
            .await;
    assert!(processed >= recorded, "{processed} processed, {recorded} recorded");
    assert_eq!(scalar(&pool, "SELECT count(*) FROM events.dead_letters").await, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_http_heartbeat_flows_through_the_outbox_to_its_consumer_and_routing_follows_the_functions() {
    let db = TestDb::create().await;
    let dev = DevHost::start(&db, NEVER).await;
    let pool = db.pool().await;

    let res = dev.client.post(dev.url("/api/system/heartbeats")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    // The local host gives every forwarded request an invocation id, which becomes the trace id.
    let trace = res.headers().get("x-trace-id").and_then(|v| v.to_str().ok()).map(str::to_string);
    let body: Value = res.json().await.unwrap();
    let trace = trace.expect("x-trace-id");
    assert!(uuid::Uuid::parse_str(&trace).is_ok(), "{trace}");
    assert_eq!(body["traceId"], trace.as_str());
    let id = body["data"]["id"].as_str().unwrap().to_string();

    let count = eventually(Duration::from_secs(20), Duration::from_millis(50), async || {
        dev.tallied_count(&id).await.filter(|c| *c >= 1)
    })
    .await
    .expect("the heartbeat was not tallied within 20 s");
    assert_eq!(count, 1);
    let queued = eventually(Duration::from_secs(10), Duration::from_millis(50), async || {
        let n = scalar(&pool, "SELECT count(*) FROM events.local_queue").await;
        (n == 0).then_some(n)
    })
    .await;
    assert_eq!(queued, Some(0), "the delivered message was not completed");
    assert_eq!(scalar(&pool, "SELECT count(*) FROM events.outbox WHERE published_at IS NULL").await, 0);
    assert_eq!(dev.summary("http").await, Some((1, 1)));

    // Routing as the host does it from function.json: unknown path 404, wrong method 405, and
    // the handler's invocation endpoints are not public.
    let cases = [
        (reqwest::Method::GET, "/api/nothing/here", StatusCode::NOT_FOUND),
        (reqwest::Method::DELETE, "/api/openapi.json", StatusCode::METHOD_NOT_ALLOWED),
        (reqwest::Method::POST, "/HeartbeatTally", StatusCode::NOT_FOUND),
        (reqwest::Method::GET, "/api/openapi.json", StatusCode::OK),
        (reqwest::Method::GET, "/api/system/live", StatusCode::OK),
    ];
    for (method, path, want) in cases {
        let res = dev.client.request(method.clone(), dev.url(path)).send().await.unwrap();
        assert_eq!(res.status(), want, "{method} {path}");
    }

    let status = dev.status().await.expect("host status");
    assert_eq!(status["state"], "Running", "{status}");
    assert_eq!(status["handlerRestarts"], 0, "{status}");
    let handler_pid = status["handlerPid"].as_u64().expect("handlerPid") as u32;
    assert!(crate::process::is_alive(handler_pid), "{status}");
    assert_eq!(
        crate::process::parent_pid(handler_pid),
        Some(dev.proc.pid()),
        "the handler is the host's child"
    );
    let functions = status["functions"].to_string();
    assert!(functions.contains("HeartbeatTally") && functions.contains("HeartbeatTimer"), "{status}");
    // The handler itself listens on loopback at its private port.
    let port = status["handlerPort"].as_u64().expect("handlerPort");
    let ping = dev.client.get(format!("http://127.0.0.1:{port}/")).send().await.unwrap();
    assert_eq!(ping.status(), StatusCode::OK);

    // Running a timer by hand through the admin API, as with the real host.
    let run = dev.client.post(dev.url("/admin/functions/HeartbeatTimer")).send().await.unwrap();
    assert_eq!(run.status(), StatusCode::ACCEPTED);
    let timer = eventually(Duration::from_secs(20), Duration::from_millis(50), async || {
        dev.summary("timer").await.filter(|(_, tallied)| *tallied >= 1)
    })
    .await;
    assert_eq!(timer, Some((1, 1)));
    let not_runnable = dev.client.post(dev.url("/admin/functions/System")).send().await.unwrap();
    assert_eq!(not_runnable.status(), StatusCode::BAD_REQUEST);
    let unknown = dev.client.post(dev.url("/admin/functions/NoSuchFunction")).send().await.unwrap();
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
}

/// The delivery burst at one instant (one statement, one snapshot).
#[derive(Debug, Clone, Copy, Default, sqlx::FromRow)]
struct Progress {
    /// Heartbeats the consumer has applied.
    tallied: i64,
    /// Outbox events the relay has not moved to the local queue yet.
    unrelayed: i64,
    /// Messages claimed by the host and not settled yet: deliveries in flight.
    in_flight: i64,
    /// Messages waiting for redelivery after a failed delivery.
    abandoned: i64,
    /// Of those, the ones whose effect had in fact been committed: the handler died between its
    /// commit and its answer, so their redelivery must be recognised as a duplicate.
    applied_unanswered: i64,
    /// Deliveries in flight whose effect is already committed: a kill now loses their answer.
    committed_in_flight: i64,
}

async fn progress(pool: &PgPool) -> Progress {
    sqlx::query_as(
        "SELECT \
           (SELECT count(*) FROM ops.heartbeats WHERE tallied_count > 0) AS tallied, \
           (SELECT count(*) FROM events.outbox WHERE published_at IS NULL) AS unrelayed, \
           (SELECT count(*) FROM events.local_queue WHERE locked_until > now()) AS in_flight, \
           (SELECT count(*) FROM events.local_queue \
             WHERE delivery_count > 0 AND locked_until IS NULL) AS abandoned, \
           (SELECT count(*) FROM events.local_queue q \
             WHERE q.delivery_count > 0 AND q.locked_until IS NULL AND EXISTS ( \
               SELECT 1 FROM events.processed_messages p \
               WHERE p.consumer = q.function_name AND p.message_id = q.message_id)) AS applied_unanswered, \
           (SELECT count(*) FROM events.local_queue q \
             WHERE q.locked_until > now() AND EXISTS ( \
               SELECT 1 FROM events.processed_messages p \
               WHERE p.consumer = q.function_name AND p.message_id = q.message_id)) AS committed_in_flight",
    )
    .fetch_one(pool)
    .await
    .expect("reading the delivery progress")
}

/// One SIGKILL of the handler and what it did.
#[derive(Debug)]
struct Kill {
    pid: u32,
    /// Just before the kill.
    before: Progress,
    /// The most abandoned messages seen while the host restarted the handler.
    abandoned: i64,
    applied_unanswered: i64,
    restarted_as: u32,
}

/// Kills the handler with SIGKILL as soon as `when` holds, then watches the queue until the host
/// has restarted it and the interrupted deliveries show up as abandoned (or 1 s has passed).
/// `None` when the moment never came: the burst ended first (or nothing happened for 40 s).
async fn kill_handler_when(dev: &DevHost, pool: &PgPool, when: impl Fn(&Progress) -> bool) -> Option<Kill> {
    let pid = dev.handler_pid().await;
    let ended = || async {
        scalar(pool, "SELECT count(*) FROM events.local_queue").await == 0
            && progress(pool).await.unrelayed == 0
    };
    let started = Instant::now();
    let before = loop {
        let p = progress(pool).await;
        if when(&p) {
            break p;
        }
        if (p.tallied > 0 && ended().await) || started.elapsed() > Duration::from_secs(40) {
            eprintln!("no moment to kill: {p:?}");
            return None;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    };
    assert!(crate::process::signal(pid, "KILL"), "killing the handler {pid}");
    let killed = Instant::now();
    let (mut abandoned, mut applied_unanswered, mut restarted_as) = (0, 0, None);
    loop {
        let p = progress(pool).await;
        abandoned = abandoned.max(p.abandoned);
        applied_unanswered = applied_unanswered.max(p.applied_unanswered);
        if restarted_as.is_none()
            && let Some(status) = dev.status().await
            && status["state"] == "Running"
            && let Some(new) = status["handlerPid"].as_u64().map(|p| p as u32).filter(|p| *p != pid && *p > 0)
        {
            restarted_as = Some(new);
        }
        // Watch until the interrupted deliveries show up as abandoned, including a committed one
        // if there is any (it is redelivered after the first backoff), or for 1 s.
        if let Some(new) = restarted_as
            && ((abandoned > 0 && applied_unanswered > 0) || killed.elapsed() > Duration::from_secs(1))
        {
            return Some(Kill { pid, before, abandoned, applied_unanswered, restarted_as: new });
        }
        assert!(killed.elapsed() < Duration::from_secs(30), "the handler was not restarted within 30 s");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn killing_the_handler_mid_delivery_neither_loses_nor_duplicates_a_tally() {
    const N: usize = 1000;
    let db = TestDb::create().await;
    let dev = DevHost::start(&db, NEVER).await;
    let pool = db.pool().await;

    // Hold the relay back while the heartbeats are recorded, so that all N are delivered in one
    // burst after it and the kills land in the middle of that burst.
    let mut brake = pool.begin().await.expect("starting the brake");
    let lock = sqlx::query("LOCK TABLE events.local_queue IN EXCLUSIVE MODE").execute(&mut *brake);
    tokio::time::timeout(Duration::from_secs(10), lock)
        .await
        .expect("locking the local queue in time")
        .expect("locking the local queue");

    let ids: Vec<String> =
        futures::stream::iter(0..N).map(|_| dev.post_heartbeat()).buffer_unordered(16).collect().await;
    let distinct: HashSet<&String> = ids.iter().collect();
    assert_eq!(distinct.len(), N);
    assert_eq!(scalar(&pool, "SELECT count(*) FROM ops.heartbeats WHERE source = 'http'").await, N as i64);
    assert_eq!(tallied(&pool).await, 0, "nothing can be delivered yet");
    brake.commit().await.expect("releasing the brake");

    // Kill 1: once the relay has queued all N (its first batch may be a small one) and the
    // consumer has applied a few, with deliveries in flight.
    let n = N as i64;
    let first = kill_handler_when(&dev, &pool, |p| {
        p.unrelayed == 0 && p.tallied >= 5 && p.tallied < n && p.in_flight >= 2 && p.committed_in_flight >= 1
    })
    .await
    .expect("the first moment to kill never came");
    eprintln!("kill 1: {first:?}");
    // Kill 2: the restarted handler, once it has taken back what kill 1 interrupted (so that what
    // is abandoned after kill 2 is kill 2's doing) and applied a few more.
    let resumed = first.before.tallied;
    let second = kill_handler_when(&dev, &pool, |p| {
        p.abandoned == 0
            && p.tallied >= resumed + 5
            && p.tallied < n
            && p.in_flight >= 2
            && p.committed_in_flight >= 1
    })
    .await
    .expect("the second moment to kill never came");
    eprintln!("kill 2: {second:?}");
    assert_eq!(second.pid, first.restarted_as);
    assert_ne!(second.restarted_as, second.pid);
    // Both kills interrupted deliveries: the host saw them fail and will deliver them again.
    for kill in [&first, &second] {
        assert!(kill.before.tallied < n && kill.before.in_flight > 0, "{kill:?}");
        assert_eq!(kill.before.abandoned, 0, "{kill:?}");
        assert!(kill.abandoned > 0, "no delivery failed because of the kill: {kill:?}");
    }

    // The case that matters must happen: an effect committed and its answer lost to a kill, so
    // its redelivery had to be recognised as a duplicate. A kill can land just after the answers
    // it aimed at; then kill again while the burst lasts (before waiting for the end: once all
    // are delivered there is nothing left to interrupt).
    let mut lost_answers = first.applied_unanswered + second.applied_unanswered;
    let mut extra = Vec::new();
    while lost_answers == 0 && extra.len() < 4 && tallied(&pool).await < n - 40 {
        let Some(kill) = kill_handler_when(&dev, &pool, |p| {
            p.abandoned == 0 && p.tallied < n - 20 && p.in_flight >= 2 && p.committed_in_flight >= 1
        })
        .await
        else {
            break;
        };
        lost_answers += kill.applied_unanswered;
        extra.push(kill);
    }
    eprintln!("effects committed whose answer a kill lost (seen): {lost_answers}; extra kills: {extra:?}");
    assert!(
        lost_answers >= 1,
        "no kill landed between a commit and its answer: {first:?} {second:?} {extra:?}"
    );

    // Everything is delivered in the end.
    let done = eventually(Duration::from_secs(40), Duration::from_millis(50), async || {
        let t = tallied(&pool).await;
        let queued = scalar(&pool, "SELECT count(*) FROM events.local_queue").await;
        (t == N as i64 && queued == 0).then_some(())
    })
    .await;
    assert!(
        done.is_some(),
        "not all delivered within 40 s: {} of {N} tallied, {} still queued",
        tallied(&pool).await,
        scalar(&pool, "SELECT count(*) FROM events.local_queue").await
    );

    // Exactly once, however the deliveries were interrupted.
    let not_once = "SELECT count(*) FROM ops.heartbeats WHERE tallied_count <> 1";
    assert_eq!(scalar(&pool, not_once).await, 0, "a heartbeat tallied 0 or more than 1 times");
    let total = "SELECT coalesce((SELECT total FROM ops.heartbeat_tallies WHERE source = 'http'), 0)";
    assert_eq!(scalar(&pool, total).await, N as i64);
    assert_eq!(scalar(&pool, "SELECT count(*) FROM events.local_queue").await, 0);
    assert_eq!(scalar(&pool, "SELECT count(*) FROM events.dead_letters").await, 0);
    let processed = "SELECT count(*) FROM events.processed_messages WHERE consumer = 'HeartbeatTally'";
    assert_eq!(scalar(&pool, processed).await, N as i64);

    // And the API says the same, heartbeat by heartbeat.
    let counts: Vec<(String, Option<i64>)> = futures::stream::iter(ids.iter())
        .map(|id| async { (id.clone(), dev.tallied_count(id).await) })
        .buffer_unordered(16)
        .collect()
        .await;
    let wrong: Vec<_> = counts.iter().filter(|(_, c)| *c != Some(1)).collect();
    assert!(wrong.is_empty(), "not tallied exactly once: {wrong:?}");
    assert_eq!(dev.summary("http").await, Some((N as i64, N as i64)));
    let status = dev.status().await.expect("host status");
    assert!(status["handlerRestarts"].as_u64().unwrap_or(0) >= 2, "{status}");
    assert_eq!(status["state"], "Running", "{status}");
}

/// As root, with the checkout under `/root` (the usual container), `healthsync dev` without a
/// DATABASE_URL starts its own cluster where the `postgres` account can reach it, keyed by the
/// checkout, and serves a database-backed request.
#[tokio::test(flavor = "multi_thread")]
async fn the_first_command_works_as_root_from_a_checkout_under_root() {
    let uid = Command::new("id").arg("-u").output().expect("id -u");
    if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
        eprintln!("not root: nothing to check");
        return;
    }
    let home = std::path::PathBuf::from("/root/.cache");
    std::fs::create_dir_all(&home).unwrap();
    let checkout = tempfile::tempdir_in(&home).expect("a folder under /root");
    let port = crate::process::free_port();
    let mut cmd = Command::new(BIN);
    cmd.args(["dev", "--port", "0"])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .current_dir(checkout.path())
        .env("HEALTHSYNC_DEV_PG_PORT", port.to_string())
        .env("HEARTBEAT_SCHEDULE", NEVER)
        .env("RUST_LOG", "info,sqlx=warn");
    let mut proc = Proc::spawn("healthsync dev (own cluster)", cmd, checkout.path().join("dev.log"));
    const MARK: &str = "Functions host: http://127.0.0.1:";
    let base = eventually(Duration::from_secs(60), Duration::from_millis(50), async || {
        if let Some(status) = proc.exited() {
            panic!("healthsync dev exited ({status}):\n{}", proc.log_tail(40));
        }
        let log = proc.log_text();
        let rest = &log[log.find(MARK)? + MARK.len()..];
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        Some(format!("http://127.0.0.1:{digits}"))
    })
    .await
    .unwrap_or_else(|| panic!("healthsync dev did not come up in 60 s:\n{}", proc.log_tail(40)));
    let log = proc.log_text();
    let cluster = log
        .lines()
        .find_map(|l| l.split("private cluster in ").nth(1))
        .and_then(|r| r.split(" on ").next())
        .expect("the cluster's folder is printed")
        .to_string();
    assert!(cluster.starts_with("/var/tmp/healthsync-dev/"), "{cluster}");
    let client = crate::process::client();
    let ready = client.get(format!("{base}/api/system/ready")).send().await.unwrap();
    assert_eq!(ready.status(), StatusCode::OK, "{}", ready.text().await.unwrap_or_default());
    let hb = client.post(format!("{base}/api/system/heartbeats")).send().await.unwrap();
    assert_eq!(hb.status(), StatusCode::CREATED, "a write reaches the private cluster");
    drop(proc);
    // Stop the cluster the killed host left running, and remove it.
    let _ = Command::new("runuser")
        .args(["-u", "postgres", "--"])
        .arg(pg_ctl())
        .args(["stop", "-m", "immediate", "-D", &cluster])
        .output();
    let _ = std::fs::remove_dir_all(std::path::Path::new(&cluster).parent().unwrap());
}

fn pg_ctl() -> std::path::PathBuf {
    let mut versions: Vec<_> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| d.flatten().map(|e| e.path().join("bin/pg_ctl")).filter(|p| p.exists()).collect())
        .unwrap_or_default();
    versions.sort();
    versions.pop().unwrap_or_else(|| "pg_ctl".into())
}
