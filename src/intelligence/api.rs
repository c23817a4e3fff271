//! The intelligence domain's Rust API: the mission picks the composition root hands the goals
//! reset ([`recommender`]), and for the domains after it (the motivator) nudge wording per
//! segment. No personal data goes into the prompt (only the segment's descriptors), so no
//! consent is needed; one wording per segment per day is asked for and shared by every user,
//! slice and instance of that segment through the platform cache.

use std::{collections::HashMap, sync::Arc, time::Duration};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};

pub use super::engine::Engine;
use super::engine::{self, Ask, Purpose};
use crate::{
    domain::Platform,
    platform::{ai::Turn, cache},
};

/// Trains the safety guard's model from its corpus (a fraction of a second), so the first chat
/// message does not wait for it; later calls return at once.
pub fn warm_safety_model() {
    super::safety::model::warm();
}

/// Claude's mission picks for the goals reset, as the goals domain asks for them
/// (`goals::api::Recommender`); the composition root hands them to goals when it builds it.
pub fn recommender(state: &super::IntelState) -> Arc<dyn crate::goals::api::Recommender> {
    Arc::new(super::recommend::AiRecommender(state.clone()))
}

/// A segment of users to word one nudge for, and the wording to fall back on.
pub struct NudgeBrief<'a> {
    pub segment: &'a str,
    pub motivation: &'a str,
    pub urgency: &'a str,
    pub streak_band: &'a str,
    pub fallback: Wording,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Wording {
    pub title: String,
    pub body: String,
    pub engine: Engine,
}

/// The longest title and body Claude may write, in characters.
pub const MAX_TITLE: usize = 30;
pub const MAX_BODY: usize = 90;
/// A wording outlives its Seoul day a little (the key names the day anyway).
const WORDING_TTL: Duration = Duration::from_secs(26 * 3600);
/// After a failure the segment falls back for a while instead of asking again at once.
const FAILURE_TTL: Duration = Duration::from_secs(300);
/// One instance asks; the others wait this long for its wording, then fall back.
const LOCK_WINDOW: Duration = Duration::from_secs(30);
const WAIT_STEP: Duration = Duration::from_millis(100);

#[derive(Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
enum Entry {
    Worded { title: String, body: String },
    Failed,
}

#[derive(Deserialize)]
struct Written {
    title: String,
    body: String,
}

fn valid(w: &Written) -> bool {
    let ok = |s: &str, max: usize| !s.trim().is_empty() && s.chars().count() <= max && !s.contains("http");
    ok(&w.title, MAX_TITLE) && ok(&w.body, MAX_BODY)
}

fn segment_key(day: NaiveDate, b: &NudgeBrief<'_>) -> String {
    let digest = Sha256::digest(format!("{}\u{1f}{}\u{1f}{}\u{1f}{}", b.segment, b.motivation, b.urgency, b.streak_band));
    let hex: String = digest[..12].iter().map(|x| format!("{x:02x}")).collect();
    format!("intel:nudge:{day}:{hex}")
}

/// Serialises asks for one segment within the process: one map per process, as the lock it
/// stands for is (instances agree through the cache counter below).
#[derive(Default)]
struct Locks(std::sync::Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>);

static LOCKS: std::sync::LazyLock<Locks> = std::sync::LazyLock::new(Locks::default);

impl Locks {
    fn of(&self, key: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        map.retain(|_, m| Arc::strong_count(m) > 1);
        map.entry(key.to_string()).or_default().clone()
    }
}

fn from_entry(e: Entry, b: &NudgeBrief<'_>) -> Wording {
    match e {
        Entry::Worded { title, body } => Wording { title, body, engine: Engine::Claude },
        Entry::Failed => b.fallback.clone(),
    }
}

const SYSTEM: &str = "당신은 한국의 건강 습관 앱 HealthSync의 알림 문구 작성자입니다. \
주어진 사용자 집단(세그먼트)에게 보낼 짧은 한국어 격려 알림 하나를 씁니다. 제목은 30자 이내, 본문은 90자 이내. \
광고·홍보, 링크, 질병 언급, 죄책감을 주는 표현은 쓰지 않습니다.";

/// One short Korean nudge for the segment of `brief` on `day`: Claude's, asked once per segment
/// per day and shared through the cache; `brief.fallback` (engine offline) when there is no key,
/// the breaker is open, or anything fails. Never errors.
pub async fn nudge_wording(platform: &Platform, day: NaiveDate, brief: &NudgeBrief<'_>) -> Wording {
    let key = segment_key(day, brief);
    let cache = platform.cache.as_ref();
    if let Some(e) = cache::get_json::<Entry>(cache, &key).await {
        return from_entry(e, brief);
    }
    if !platform.ai.is_configured() {
        return brief.fallback.clone();
    }
    let lock = LOCKS.of(&key);
    let _held = lock.lock().await;
    if let Some(e) = cache::get_json::<Entry>(cache, &key).await {
        return from_entry(e, brief);
    }
    // Across instances: the first to count the segment's lock asks; the others wait for its answer.
    let lock_key = format!("{key}:lock");
    match cache.incr(&lock_key, LOCK_WINDOW).await {
        Ok(1) | Err(_) => {}
        Ok(_) => {
            let waited = tokio::time::Instant::now();
            while waited.elapsed() < LOCK_WINDOW.min(Duration::from_secs(12)) {
                tokio::time::sleep(WAIT_STEP).await;
                if let Some(e) = cache::get_json::<Entry>(cache, &key).await {
                    return from_entry(e, brief);
                }
            }
            return brief.fallback.clone();
        }
    }
    let ask = format!(
        "[세그먼트]\n이름: {}\n동기 유형: {}\n긴급도: {}\n연속 달성 구간: {}\n\n이 집단에게 보낼 알림 하나를 써 주세요.",
        brief.segment, brief.motivation, brief.urgency, brief.streak_band
    );
    let schema = json!({
        "type": "object",
        "properties": {
            "title": {"type": "string", "description": "30자 이내"},
            "body": {"type": "string", "description": "90자 이내"}
        },
        "required": ["title", "body"],
        "additionalProperties": false
    });
    let ask = Ask { purpose: Purpose::Nudge, system: SYSTEM, turns: vec![Turn::user(ask)], schema: &schema };
    let entry = match engine::ask::<Written>(platform, true, None, ask, valid).await {
        Ok(w) => Entry::Worded { title: w.title.trim().to_string(), body: w.body.trim().to_string() },
        Err(_) => Entry::Failed,
    };
    let ttl = if matches!(entry, Entry::Failed) { FAILURE_TTL } else { WORDING_TTL };
    cache::set_json(cache, &key, &entry, ttl).await;
    from_entry(entry, brief)
}
