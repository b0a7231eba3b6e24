//! Compiles every topology the end-to-end tests run.
fn main() {
    for topo in [
        "topologies/groupings.topo",
        "topologies/fused.topo",
        "topologies/unfused.topo",
        "topologies/backpressure.topo",
        "topologies/chain.topo",
        "topologies/acking.topo",
        "topologies/acking_timeout.topo",
        "topologies/acking_pending.topo",
        "topologies/cluster_acking.topo",
        "topologies/keyed_state.topo",
        "topologies/windows.topo",
        "topologies/windows_late.topo",
        "topologies/windows_properties.topo",
        "topologies/processing_time.topo",
        "topologies/joins.topo",
        "topologies/state_ttl.topo",
        "topologies/windows_idle.topo",
        "topologies/windows_aggregations.topo",
        "topologies/checkpoints.topo",
        "topologies/exactly_once.topo",
        "topologies/exactly_once_rescaled.topo",
        "topologies/str_keys.topo",
    ] {
        gale_compiler::compile_or_exit(topo);
    }
}
