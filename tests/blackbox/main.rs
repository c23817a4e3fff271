//! Black-box tests: the built `healthsync` binary in a child process, on a fresh database,
//! spoken to exactly as the Azure Functions host (`serve`) or a developer (`dev`) speaks to it.

mod process;

mod dev_host;
mod handler;
mod hostile;
mod nudges;
