//! The cluster: nimbus, supervisors and workers, and the gRPC control plane between them.

pub mod proto;
pub mod scheduler;
pub mod security;
pub mod store;
