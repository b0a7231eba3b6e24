//! The data plane between worker processes (being written).
