//! The health domain's timer: ends expired NHIS sync jobs, so the personal fields their handles
//! hold (name, birth date, phone) do not outlive the approval window; and destroys the health
//! data of users who withdrew the health-data consent longer ago than the retention period; and
//! forgets upload records no limit reads any more.

use serde_json::json;

use super::{
    HealthState,
    routes::rights,
    store::{jobs, uploads},
};
use crate::functions::{InvocationRequest, InvocationResponse, InvokeFuture};

pub const SWEEP: &str = "HealthSyncSweep";

pub fn sweep(state: HealthState, _req: InvocationRequest) -> InvokeFuture {
    Box::pin(async move {
        let expired = jobs::sweep(&state.db).await?;
        let erased = rights::erase_withdrawn(&state, state.own.withdrawn_retention).await?;
        let pruned = uploads::prune(&state.db).await?;
        Ok(InvocationResponse::default()
            .log(format!(
                "expired {expired} sync jobs, erased the health data of {erased} withdrawn users, pruned {pruned} upload records"
            ))
            .returning(json!({ "expired": expired, "erasedWithdrawn": erased, "prunedUploads": pruned })))
    })
}
