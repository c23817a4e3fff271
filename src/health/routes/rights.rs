//! The health domain's share of an export (개인정보보호법 §35, §35-2): checkups with their raw
//! payloads and assessments, the files list and the sync jobs (without handles).

use serde_json::{Value, json};
use uuid::Uuid;

use crate::{
    domain::Platform,
    health::{api, store, views},
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
