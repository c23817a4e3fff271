//! The health domain's timer: ends expired NHIS sync jobs, so the personal fields their handles
//! hold (name, birth date, phone) do not outlive the approval window.

use serde_json::json;

use super::{HealthState, store::jobs};
use crate::functions::{InvocationRequest, InvocationResponse, InvokeFuture};

pub const SWEEP: &str = "HealthSyncSweep";

pub fn sweep(state: HealthState, _req: InvocationRequest) -> InvokeFuture {
    Box::pin(async move {
        let expired = jobs::sweep(&state.db).await?;
        Ok(InvocationResponse::default()
            .log(format!("expired {expired} sync jobs"))
            .returning(json!({ "expired": expired })))
    })
}
