//! The Functions side: `serve` speaks the custom-handler protocol to the real host, and `local`
//! plays the Functions host on a laptop (`healthsync dev`). Both work from function definitions
//! and a router they are given; neither knows a domain.

pub mod http_server;
pub mod local;
pub mod serve;
