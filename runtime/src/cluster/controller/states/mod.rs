//! What the failure detector does with a topology, one file per [`super::Phase`].

pub mod finished;
pub mod running;
pub mod waiting;
