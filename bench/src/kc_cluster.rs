//! `kc_cluster`: the keyed count of issue 13 as a topology binary, for `cluster_bench` (local
//! mode and two worker processes). See `topologies/kc_cluster.topo` and [`kc_cluster_ops`].
//!
//! ```text
//! ./target/release/kc_cluster run --set secs=10 --set out_dir=/tmp/kc
//! ./target/release/kc_cluster submit --nimbus http://127.0.0.1:6627 --workers 2 --set out_dir=/tmp/kc
//! ```

mod kc_cluster_ops;
mod xorshift;

gale::include_topology!("kc_cluster");

fn main() -> std::process::ExitCode {
    gale::main(kc_cluster::topology())
}
