//! In-process tests: the router and functions of the app (`oneshot` on the router built by
//! `App`), each test on a fresh database (`#[sqlx::test]`), against real PostgreSQL, Redis and
//! Azurite, and local fakes of the services that cannot run here (Google, Service Bus).

mod support;

mod api;
mod architecture;
mod auth;
mod authz;
mod bus;
mod catalog;
mod clock;
mod contract;
mod deployable;
mod deployable_access;
mod deployable_handover;
mod deployable_pipelines;
mod entra;
mod fast_publish;
mod goals;
mod health;
mod hostile;
mod http_server;
mod infra;
mod intelligence;
mod invocations;
mod local_queue;
mod motivator;
mod outbox_limits;
mod platform;
mod servicebus;
mod users;
