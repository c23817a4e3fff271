//! What every domain uses: the database, the cache, blob storage, the event bus and telemetry.

pub mod ai;
pub mod blob;
pub mod bus;
pub mod cache;
pub mod db;
pub mod entra;
pub mod http_client;
pub mod ratelimit;
pub mod resilience;
pub mod telemetry;
#[cfg(test)]
pub mod test_alloc;
pub mod time;
