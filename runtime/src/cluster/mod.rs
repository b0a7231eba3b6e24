//! The cluster: nimbus, supervisors and workers, and the gRPC control plane between them.
//!
//! - [`nimbus`]: accepts topology binaries, keeps its metadata in a [`store`]; the edge
//!   around the [`controller`], which makes its decisions as pure code (scheduling with
//!   [`scheduler`], failure detection, moving failed workers, finishing).
//! - [`supervisor`]: runs the workers nimbus assigns to its slots, as processes, and
//!   restarts crashed ones with backoff ([`restart`]); its decisions are pure, in
//!   [`supervisor_plan`].
//! - [`worker`]: a topology binary in worker mode.
//! - [`submit`], [`client`]: how a binary uploads itself; a connection to nimbus.
//! - [`security`]: the cluster secret, TLS, and the loopback-only default; [`auth_gate`]
//!   checks the secret before a request's body is read; [`credential`]: the per-topology
//!   credential workers get instead of the secret.

pub mod adoption;
pub mod auth_gate;
pub(crate) mod checkpoint_link;
pub mod checkpoint_plan;
pub mod cli;
pub mod client;
pub mod controller;
pub mod credential;
pub mod nimbus;
pub mod proto;
pub mod restart;
pub mod scheduler;
pub mod security;
pub mod store;
pub mod submit;
pub mod supervisor;
pub mod supervisor_plan;
pub mod worker;
pub mod worker_stats;
