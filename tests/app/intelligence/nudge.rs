//! Nudge wording for the motivator: one AI call per segment per day, shared by every caller;
//! the fallback whenever Claude cannot answer.

use chrono::NaiveDate;
use healthsync::intelligence::api::{Engine, NudgeBrief, Wording, nudge_wording};
use serde_json::json;
use sqlx::PgPool;

use super::{ClaudeFake, IntelApp, Reply};

fn fallback() -> Wording {
    Wording {
        title: "오늘도 한 걸음".into(), body: "미션 하나만 해 볼까요?".into(), engine: Engine::Offline
    }
}

fn brief(segment: &str) -> NudgeBrief<'_> {
    NudgeBrief {
        segment,
        motivation: "HABIT_FORMATION",
        urgency: "MEDIUM",
        streak_band: "3-6",
        fallback: fallback(),
    }
}

#[sqlx::test]
async fn many_calls_for_one_segment_make_one_request(pool: PgPool) {
    // A request that takes a while: concurrent callers wait for the one in flight.
    let fake = ClaudeFake::with_pace(std::time::Duration::from_millis(300), 400.0).await;
    fake.answer(
        "title",
        Reply::Json(json!({"title": "사흘째 이어 가는 중!", "body": "오늘도 미션 하나로 흐름을 지켜요."})),
    );
    let app = IntelApp::with_fake(pool, &fake, &[]);
    let day = NaiveDate::from_ymd_opt(2026, 11, 20).unwrap();
    let b = brief("steady-walkers");
    let all = futures::future::join_all((0..20).map(|_| nudge_wording(&app.platform, day, &b))).await;
    let expected = Wording {
        title: "사흘째 이어 가는 중!".into(),
        body: "오늘도 미션 하나로 흐름을 지켜요.".into(),
        engine: Engine::Claude,
    };
    assert!(all.iter().all(|w| *w == expected), "{all:?}");
    assert_eq!(fake.received().await.len(), 1);
    let sent = fake.received().await[0].to_string();
    assert!(sent.contains("steady-walkers") && sent.contains("HABIT_FORMATION"));
    // Another segment, or the next day, is asked once more.
    nudge_wording(&app.platform, day, &brief("new-starters")).await;
    nudge_wording(&app.platform, day.succ_opt().unwrap(), &b).await;
    assert_eq!(fake.received().await.len(), 3);
}

#[sqlx::test]
async fn a_failure_or_no_key_gives_the_fallback(pool: PgPool) {
    let fake = ClaudeFake::start().await;
    fake.answer("title", Reply::error(500, "api_error"));
    let app = IntelApp::with_fake(pool.clone(), &fake, &[("ANTHROPIC_MAX_RETRIES", "0")]);
    let day = NaiveDate::from_ymd_opt(2026, 11, 20).unwrap();
    for _ in 0..3 {
        assert_eq!(nudge_wording(&app.platform, day, &brief("s")).await, fallback());
    }
    assert_eq!(fake.received().await.len(), 1, "a failed segment falls back for a while");
    let offline = IntelApp::offline(pool);
    assert_eq!(nudge_wording(&offline.platform, day, &brief("s")).await, fallback());
}
