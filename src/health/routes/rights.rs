//! The health domain's share of an export (개인정보보호법 §35, §35-2): checkups with their raw
//! payloads and assessments, the files list and the sync jobs (without handles); and the
//! destruction of health data whose consent was withdrawn longer ago than the retention period
//! (개인정보보호법 §37; docs/privacy.md).

use std::time::Duration;

use anyhow::Context;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::{
    domain::Platform,
    health::{api, store, views},
    platform::blob,
    users::api::{self as users, ConsentKind},
};

pub async fn export(platform: &Platform, user: Uuid) -> anyhow::Result<Value> {
    let sex = api::user_info(platform, user).await?.gender;
    let mut checkups = Vec::new();
    for (c, raw) in store::checkups::export(&platform.db, user).await? {
        let mut v = serde_json::to_value(&c)?;
        v["raw"] = raw;
        if let Some(sex) = sex {
            v["assessment"] = serde_json::to_value(views::record(&c, sex).assessment)?;
        }
        checkups.push(v);
    }
    Ok(json!({
        "checkups": checkups,
        "files": store::files::list(&platform.db, user).await?,
        "syncJobs": store::jobs::list(&platform.db, user).await?,
    }))
}

/// Destroys the health data (rows, result sheets, cached copies) of every user whose health-data
/// consent has been withdrawn for longer than `retention`; returns how many users' data went.
/// Blobs go first and rows after, so a run that fails half-way finds the user again next time.
/// The account, the other consents and the other domains' data stay.
pub async fn erase_withdrawn(platform: &Platform, retention: Duration) -> anyhow::Result<usize> {
    let cutoff = platform.clock.now() - chrono::Duration::from_std(retention).context("retention period")?;
    let (mut after, mut erased) = (0, 0);
    loop {
        let page = users::withdrawn_before(&platform.db, ConsentKind::HealthData, cutoff, after, 500).await?;
        let Some(&(last, _)) = page.last() else { return Ok(erased) };
        after = last;
        let ids: Vec<Uuid> = page.into_iter().map(|(_, user)| user).collect();
        for user in store::holding_data(&platform.db, &ids).await? {
            // The user may have answered again since the page was read.
            if users::has_consent(&platform.db, user, ConsentKind::HealthData).await? {
                continue;
            }
            blob::delete_prefix(platform.blob.as_ref(), &health_prefix(user)).await?;
            let mut tx = platform.db.begin().await.context("starting a withdrawn erasure")?;
            store::erase(&mut tx, user).await?;
            tx.commit().await.context("committing a withdrawn erasure")?;
            api::invalidate(platform, user).await;
            erased += 1;
        }
    }
}

/// Where a user's health files live (`users/{id}/health/`).
pub fn health_prefix(user: Uuid) -> String {
    format!("{}health/", users::blob_prefix(user))
}
