//! The Functions side: the invocation protocol, the function registry, the handler server and
//! the local Functions host used by `healthsync dev`.

pub mod invoke;
pub mod local;
pub mod protocol;
pub mod registry;
pub mod serve;
