//! The one place that builds the domains' states and hands each, as constructor arguments, what
//! it takes from the others: every domain gets the users domain's token verifier, and the goals
//! domain's reset gets the intelligence domain's mission picks (a `goals::api::Recommender`, a
//! trait goals owns; goals never names intelligence). States are built in the order their needs
//! require and mounted in the crate root's order.

use crate::{
    domain::{DomainModule, Module, Mounted, Platform},
    goals, health, intelligence, motivator, system,
    users::{self, api::Verifier},
};

/// What the domains share, for a domain mounted beside them (tests add throwaway ones).
#[derive(Clone)]
pub struct Wired {
    pub verifier: Verifier,
}

/// Every domain of `crate::DOMAINS` mounted on `platform`, in that order.
pub fn mount(platform: &Platform) -> anyhow::Result<(Vec<Mounted>, Wired)> {
    let users = users::Domain::state(platform, ())?;
    let verifier = users.own.verifier.clone();
    let intelligence = intelligence::Domain::state(platform, verifier.clone())?;
    let goals = goals::Needs {
        verifier: verifier.clone(),
        recommender: Some(intelligence::api::recommender(&intelligence)),
    };
    let mounted = vec![
        Module::<system::Domain>::build(platform, ())?,
        Module::<users::Domain>::mount(users),
        Module::<health::Domain>::build(platform, verifier.clone())?,
        Module::<goals::Domain>::build(platform, goals)?,
        Module::<intelligence::Domain>::mount(intelligence),
        Module::<motivator::Domain>::build(platform, verifier.clone())?,
    ];
    Ok((mounted, Wired { verifier }))
}
