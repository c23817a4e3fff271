//! The alert `healthsync-claude-refused` against the lines the client writes: its query (read out
//! of infra/modules/alerts.bicep and run here over the client's real log lines, as Log Analytics
//! would) counts exactly the outcomes `platform::ai::outcome` names, one line per refused, retired
//! or declined call, and nothing else; and one instance that keeps being asked while its model is
//! gone writes enough lines in the alert's window to cross its threshold.

use std::{
    collections::{BTreeMap, BTreeSet},
    io,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use healthsync::platform::ai::{
    AiError, Claude, ClaudeConfig, DEFAULT_MODEL, Effort, Limits, Prompt, Stop, Turn,
    outcome::{self, BLOCKED_LINE_EVERY, Throttle},
};
use regex::Regex;
use serde_json::{Value, json};
use tree_sitter::Node;

use super::{ClaudeFake, Reply};
use crate::{
    deployable::{at, children, find, module, resources},
    infra::text,
    support::claude::KEY,
};

/// The alert rule's criterion, as deployed.
struct Rule {
    query: String,
    operator: String,
    aggregation: String,
    threshold: usize,
    window: Duration,
}

fn first_object(node: Node<'_>) -> Option<Node<'_>> {
    children(node).into_iter().find_map(|c| if c.kind() == "object" { Some(c) } else { first_object(c) })
}

/// A Bicep (or KQL) single-quoted string literal's value.
fn unquote(literal: &str) -> String {
    let inner = literal.strip_prefix('\'').and_then(|s| s.strip_suffix('\'')).expect("a quoted string");
    assert!(!inner.contains("${"), "an interpolated string: {literal}");
    let mut out = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some(other) => out.push(other),
                None => panic!("a string ends in a backslash: {literal}"),
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn rule() -> Rule {
    let (source, tree) = module("alerts.bicep");
    let all = resources(&tree, &source);
    let rule = find(&all, "claudeRefused");
    let criterion =
        first_object(at(rule.body, &source, "properties.criteria.allOf").expect("criteria.allOf")).unwrap();
    let field = |p: &str| text(at(criterion, &source, p).unwrap_or_else(|| panic!("no {p}")), &source);
    let window = unquote(text(at(rule.body, &source, "properties.windowSize").unwrap(), &source));
    let minutes: u64 = window
        .strip_prefix("PT")
        .and_then(|m| m.strip_suffix('M'))
        .and_then(|m| m.parse().ok())
        .unwrap_or_else(|| panic!("a window in minutes: {window}"));
    Rule {
        query: unquote(field("query")),
        operator: unquote(field("operator")),
        aggregation: unquote(field("timeAggregation")),
        threshold: field("threshold").parse().unwrap(),
        window: Duration::from_secs(minutes * 60),
    }
}

/// One stage of the query (only the operators it uses; a new one must be taught here).
enum Stage {
    /// `where message has "term"`: the term, case-insensitive, between non-alphanumerics.
    Has(Regex),
    /// `extend column = extract('re', 1, message)`: the first group, or "" without a match.
    Extract(String, Regex),
    /// `where column in ("a", ...)`.
    In(String, BTreeSet<String>),
}

/// The query's stages, and the names its `in` accepts.
fn stages(query: &str) -> Vec<Stage> {
    let has = Regex::new(r#"^where message has "([^"]+)"$"#).unwrap();
    let extract = Regex::new(r#"^extend (\w+) = extract\(('(?:[^'\\]|\\.)*'), 1, message\)$"#).unwrap();
    let within = Regex::new(r#"^where (\w+) in \(((?:"[^"]*"(?:, )?)+)\)$"#).unwrap();
    let mut parts = query.split(" | ");
    assert_eq!(parts.next(), Some("traces"), "{query}");
    parts
        .map(|p| {
            if let Some(c) = has.captures(p) {
                Stage::Has(
                    Regex::new(&format!("(?i)(^|[^a-z0-9]){}($|[^a-z0-9])", regex::escape(&c[1]))).unwrap(),
                )
            } else if let Some(c) = extract.captures(p) {
                Stage::Extract(c[1].to_string(), Regex::new(&unquote(&c[2])).unwrap())
            } else if let Some(c) = within.captures(p) {
                let names = c[2].split(", ").map(|n| n.trim_matches('"').to_string()).collect();
                Stage::In(c[1].to_string(), names)
            } else {
                panic!("the query has a stage this test cannot run: `{p}`")
            }
        })
        .collect()
}

/// Whether the query counts `line` (a `traces` row whose message is the line).
fn counts(stages: &[Stage], line: &str) -> bool {
    let mut columns: BTreeMap<&str, String> = BTreeMap::new();
    stages.iter().all(|s| match s {
        Stage::Has(term) => term.is_match(line),
        Stage::Extract(column, re) => {
            let value = re.captures(line).and_then(|c| c.get(1)).map_or("", |m| m.as_str());
            columns.insert(column, value.to_string());
            true
        }
        Stage::In(column, names) => {
            names.contains(columns.get(column.as_str()).expect("a column extended before it is read"))
        }
    })
}

/// The names the query's `in` accepts.
fn counted_names(stages: &[Stage]) -> BTreeSet<String> {
    stages
        .iter()
        .find_map(|s| match s {
            Stage::In(_, names) => Some(names.clone()),
            _ => None,
        })
        .expect("the query filters on a list of outcomes")
}

/// Log lines written while the guard lives, in the format the app writes on stdout
/// (`platform::telemetry::init`, JSON).
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn start(&self) -> tracing::subscriber::DefaultGuard {
        let writer = self.clone();
        let subscriber = tracing_subscriber::fmt()
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .with_target(true)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::set_default(subscriber)
    }

    fn lines(&self) -> Vec<String> {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap().lines().map(str::to_string).collect()
    }
}

fn client(fake: &ClaudeFake, model: &str, key: &str) -> Arc<Claude> {
    let src: std::collections::HashMap<String, String> = [
        ("ANTHROPIC_API_KEY".to_string(), key.to_string()),
        ("ANTHROPIC_BASE_URL".to_string(), fake.uri()),
        ("ANTHROPIC_MODEL".to_string(), model.to_string()),
    ]
    .into();
    Arc::new(Claude::new(ClaudeConfig::from_source(&src).unwrap()))
}

#[test]
fn the_alert_counts_exactly_the_outcomes_the_client_logs() {
    let rule = rule();
    let stages = stages(&rule.query);
    let logged: BTreeSet<String> = outcome::ALERTING.iter().map(|s| s.to_string()).collect();
    assert_eq!(counted_names(&stages), logged, "{}", rule.query);
    assert_eq!(
        (rule.aggregation.as_str(), rule.operator.as_str(), rule.threshold),
        ("Count", "GreaterThanOrEqual", 3),
        "each line is one outcome: three in the window page"
    );
}

/// Every outcome worth a page writes one line the query counts; the lines of outcomes that are
/// not (an outage, a cut answer, a failed lifecycle check, the ERROR on a status change) are not
/// counted, and no counted line carries more than names, a status and a count.
#[tokio::test]
async fn each_refused_retired_or_declined_call_is_one_line_the_alerts_query_counts() {
    let logs = Captured::default();
    let _guard = logs.start();
    let fake = ClaudeFake::start().await;
    fake.answer("reply", Reply::Json(json!({"reply": "확인"})));
    let schema = json!({"type": "object", "properties": {"reply": {"type": "string"}}, "required": ["reply"], "additionalProperties": false});
    let prompt = || Prompt {
        system: "점검",
        turns: vec![Turn::user("답해 주세요.")],
        schema: &schema,
        limits: Limits {
            effort: Effort::Low,
            max_tokens: 512,
            attempt_timeout: Duration::from_secs(5),
            budget: Duration::from_secs(10),
        },
    };

    // The current model: a refusal (counted); a good answer, a cut one and a 503 (not counted).
    let good = client(&fake, DEFAULT_MODEL, KEY);
    fake.then([
        Reply::Refusal,
        Reply::Json(json!({"reply": "확인"})),
        Reply::ThinkThen(600, json!({"reply": "확인"})),
        Reply::Error(503, "api_error", vec![("x-should-retry", "false".into())]),
    ]);
    assert_eq!(good.complete(&prompt()).await.unwrap().stop, Stop::Refusal);
    assert_eq!(good.complete(&prompt()).await.unwrap().stop, Stop::EndTurn);
    assert_eq!(good.complete(&prompt()).await.unwrap().stop, Stop::MaxTokens);
    assert!(matches!(good.complete(&prompt()).await, Err(AiError::Unavailable(503))));

    // A revoked key: the request is refused (counted; the lifecycle check's failure is not).
    let revoked = client(&fake, DEFAULT_MODEL, "revoked-key");
    assert!(matches!(revoked.complete(&prompt()).await, Err(AiError::Refused(401))));

    // A retired model: the 404 (counted), then five calls not sent within the minute: one line
    // standing for the first of them; the rest wait for the next line.
    let retired = client(&fake, "claude-sonnet-4-5", KEY);
    for _ in 0..6 {
        assert!(matches!(retired.complete(&prompt()).await, Err(AiError::ModelUnavailable)));
    }
    tokio::task::yield_now().await;

    let stages = stages(&rule().query);
    let lines = logs.lines();
    let mut counted: BTreeMap<String, usize> = BTreeMap::new();
    for line in &lines {
        let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        let fields = v["fields"].as_object().unwrap();
        let named = fields.get("ai_outcome").and_then(Value::as_str);
        assert_eq!(counts(&stages, line), named.is_some(), "{line}");
        if let Some(name) = named {
            *counted.entry(name.to_string()).or_default() += 1;
            let keys: BTreeSet<&str> = fields.keys().map(String::as_str).collect();
            let allowed = BTreeSet::from([
                "message",
                "dependency",
                "ai_outcome",
                "failure",
                "model",
                "lifecycle",
                "blocked",
                "status",
            ]);
            assert!(keys.is_subset(&allowed), "{line}");
            assert!(!line.contains("확인") && !line.contains("점검"), "{line}");
        }
    }
    let expected: BTreeMap<String, usize> = outcome::ALERTING.iter().map(|o| (o.to_string(), 1)).collect();
    assert_eq!(counted, expected, "{}", lines.join("\n"));
    let blocked = lines.iter().find(|l| l.contains("\"ai_outcome\":\"model_unavailable\"")).unwrap();
    assert!(blocked.contains("\"blocked\":1") && blocked.contains("\"lifecycle\":\"retired\""), "{blocked}");
    // The lines that are not counted were written: the test saw them and the query left them out.
    assert!(lines.iter().any(|l| l.contains("\"failure\":\"unavailable\"")), "{}", lines.join("\n"));
    assert!(lines.iter().any(|l| l.contains("\"level\":\"ERROR\"") && l.contains("cannot answer")));
    assert_eq!(fake.received().await.len(), 4 + 1 + 1, "a model known to be gone is not called");
}

/// The lines one instance writes when every call is blocked and calls keep coming, each `gap`
/// apart, for an hour; and the fewest of them in any window of the alert's length.
fn fewest_lines_in_a_window(gap: Duration, window: Duration) -> usize {
    let throttle = Throttle::new(BLOCKED_LINE_EVERY);
    let t0 = Instant::now();
    let hour = Duration::from_secs(3600);
    let mut lines = Vec::new();
    let mut at = Duration::ZERO;
    while at < hour {
        if throttle.admit(t0 + at).is_some() {
            lines.push(at);
        }
        at += gap;
    }
    let mut fewest = usize::MAX;
    let mut start = Duration::ZERO;
    while start + window <= hour {
        fewest = fewest.min(lines.iter().filter(|l| **l >= start && **l < start + window).count());
        start += Duration::from_secs(10);
    }
    fewest
}

#[test]
fn a_steady_run_of_blocked_calls_on_one_instance_crosses_the_alerts_threshold() {
    let rule = rule();
    // Steady: at least one call a minute, however close together.
    for gap_ms in [100, 1_000, 30_000, 59_900, 60_000] {
        let fewest = fewest_lines_in_a_window(Duration::from_millis(gap_ms), rule.window);
        assert!(
            fewest >= rule.threshold,
            "blocked calls {gap_ms} ms apart: {fewest} lines in some {:?}, under {}",
            rule.window,
            rule.threshold
        );
    }
    // Sparse: three calls a minute apart within the window are three lines.
    let throttle = Throttle::new(BLOCKED_LINE_EVERY);
    let t0 = Instant::now();
    let written = (0..3).filter(|i| throttle.admit(t0 + BLOCKED_LINE_EVERY * *i).is_some()).count();
    assert!(BLOCKED_LINE_EVERY * 2 < rule.window);
    assert_eq!(written, rule.threshold);
}
