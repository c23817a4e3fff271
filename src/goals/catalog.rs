//! The catalogue as this process last read it. Missions change only through migrations (a new
//! mission, a retirement), so a copy refreshed every few minutes, and at once when an id it does
//! not know shows up, serves the hot paths (the active view) without a query or a cache read.
//! Decisions that must see a retirement at once (selecting) ask the database instead.

use std::{
    collections::HashMap,
    sync::{Arc, RwLock},
    time::{Duration, Instant},
};

use sqlx::PgPool;

use super::{
    model::{Mission, MissionId},
    store,
};

/// How long a copy is used before it is read again.
pub const REFRESH: Duration = Duration::from_secs(300);

pub type Missions = Arc<HashMap<MissionId, Mission>>;

#[derive(Clone, Default)]
pub struct CatalogCache(Arc<RwLock<Option<(Instant, Missions)>>>);

impl CatalogCache {
    fn current(&self) -> Option<Missions> {
        let guard = self.0.read().unwrap_or_else(|e| e.into_inner());
        guard.as_ref().filter(|(at, _)| at.elapsed() < REFRESH).map(|(_, m)| m.clone())
    }

    async fn refresh(&self, db: &PgPool) -> anyhow::Result<Missions> {
        let missions: Missions =
            Arc::new(store::all_missions(db).await?.into_iter().map(|m| (m.id.clone(), m)).collect());
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = Some((Instant::now(), missions.clone()));
        Ok(missions)
    }

    /// Every mission (retired ones included), holding at least `ids`.
    pub async fn with<'i>(
        &self,
        db: &PgPool,
        mut ids: impl Iterator<Item = &'i MissionId>,
    ) -> anyhow::Result<Missions> {
        if let Some(m) = self.current()
            && ids.all(|id| m.contains_key(id))
        {
            return Ok(m);
        }
        self.refresh(db).await
    }
}
