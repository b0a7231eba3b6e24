//! The cluster: nimbus, supervisors and workers, and the gRPC control plane between them.
//!
//! - [`nimbus`]: accepts topology binaries, schedules them onto supervisor slots
//!   ([`scheduler`]), keeps its metadata in a [`store`], reassigns on failure.
//! - [`supervisor`]: runs the workers nimbus assigns to its slots, as processes, and
//!   restarts crashed ones with backoff ([`restart`]).
//! - [`worker`]: a topology binary in worker mode.
//! - [`submit`], [`client`]: how a binary uploads itself; a connection to nimbus.
//! - [`security`]: the cluster secret, TLS, and the loopback-only default; [`auth_gate`]
//!   checks the secret before a request's body is read; [`credential`]: the per-topology
//!   credential workers get instead of the secret.

pub mod auth_gate;
pub mod cli;
pub mod client;
pub mod credential;
pub mod nimbus;
pub mod proto;
pub mod restart;
pub mod scheduler;
pub mod security;
pub mod store;
pub mod submit;
pub mod supervisor;
pub mod worker;
