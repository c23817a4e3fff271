//! `/api/health/*`. The user is always the one in the access token; every write of health data
//! needs the health-data consent (개인정보보호법 §23), checked before anything is stored or sent.

pub mod checkups;
pub mod files;
pub mod history;
pub mod rights;
pub mod sync;

use uuid::Uuid;

use super::{
    HealthState,
    api::{self, UserInfo},
};
use crate::{
    http::{ApiError, ApiResult, Routes},
    users::{self, ConsentKind, model::Sex},
};

pub fn routes() -> Routes<HealthState> {
    checkups::routes().merge(history::routes()).merge(sync::routes()).merge(files::routes())
}

/// 403 `CONSENT_REQUIRED` unless the user has granted the health-data consent in force.
pub async fn require_consent(state: &HealthState, user: Uuid) -> ApiResult<()> {
    if users::has_consent(&state.db, user, ConsentKind::HealthData).await? {
        return Ok(());
    }
    Err(ApiError::Forbidden {
        code: "CONSENT_REQUIRED",
        message: "건강정보 처리에 동의해야 검진 결과를 저장하거나 불러올 수 있습니다.".into(),
    })
}

/// The profile and the sex the rules judge by (every ACTIVE account has one).
pub async fn profile(state: &HealthState, user: Uuid) -> ApiResult<(UserInfo, Sex)> {
    let info = api::user_info(state, user).await?;
    let sex = info.gender.ok_or_else(|| ApiError::Forbidden {
        code: "ONBOARDING_REQUIRED",
        message: "회원 가입을 먼저 완료해 주세요.".into(),
    })?;
    Ok((info, sex))
}
