//! `/api/health/*`. The user is always the one in the access token; every read and write of
//! health data needs the health-data consent in force (개인정보보호법 §23, §37), checked before
//! anything is read, stored or sent. Deleting a checkup or a file stays open without it (erasure
//! is a right the withdrawal does not take away); so do export and account deletion.

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
    users::api::{self as users, ConsentKind, Sex},
};

pub fn routes() -> Routes<HealthState> {
    checkups::routes().merge(history::routes()).merge(sync::routes()).merge(files::routes())
}

/// 403 `CONSENT_REQUIRED` unless the health-data consent is in force: for writes (read from the
/// database now).
pub async fn require_consent(state: &HealthState, user: Uuid) -> ApiResult<()> {
    if users::has_consent(&state.db, user, ConsentKind::HealthData).await? {
        return Ok(());
    }
    Err(consent_required())
}

/// The same for reads, through the accessor every read of health data takes.
pub async fn require_processing(state: &HealthState, user: Uuid) -> ApiResult<()> {
    if api::processing_allowed(state, user).await? {
        return Ok(());
    }
    Err(consent_required())
}

pub fn consent_required() -> ApiError {
    ApiError::Forbidden {
        code: "CONSENT_REQUIRED",
        message: "건강정보 처리 동의가 없어 검진 결과를 저장하거나 볼 수 없습니다. 다시 동의하면 이어서 쓸 수 있고, 동의 없이도 내 데이터 내보내기와 삭제는 할 수 있습니다.".into(),
    }
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
