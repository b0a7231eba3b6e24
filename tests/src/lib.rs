//! Topologies and components for Gale's end-to-end tests. Each `.topo` in `topologies/` is
//! compiled by this crate's `build.rs`; the tests in `tests/` run them in local mode and
//! check what the components recorded against ground truth.

/// A bolt that records every tuple it receives in a static `Mutex<Vec<_>>`.
macro_rules! recorder {
    ($name:ident, $t:ty, $store:ident) => {
        /// Records what it receives.
        #[derive(Default)]
        pub struct $name;

        impl Bolt for $name {
            type In = $t;
            type Out = ();
            fn execute(&mut self, t: $t, _: &mut impl Emitter<()>) -> ExecResult {
                if let Ok(mut v) = $store.lock() {
                    v.push(t);
                }
                Ok(())
            }
        }
    };
}

/// With `--set out_dir=DIR` (a worker process, whose statics the test cannot read): this
/// recorder task's file, `DIR/<component>-<task>.txt`, to append what it receives to.
pub fn task_file(ctx: &gale::TaskContext) -> Option<std::fs::File> {
    let dir = ctx.config_str("out_dir")?;
    let path =
        std::path::Path::new(dir).join(format!("{}-{}.txt", ctx.component(), ctx.task_index()));
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .unwrap_or_else(|e| panic!("cannot open {}: {e}", path.display()));
    Some(file)
}

pub mod acking_ops;
pub mod acking_pending_ops;
pub mod acking_timeout_ops;
pub mod agg_ops;
pub mod backpressure_ops;
pub mod chain_ops;
pub mod checkpoint_ops;
pub mod cluster;
pub mod cluster_ops;
pub mod exactly_once_ops;
pub mod exactly_once_truth;
pub mod groupings_ops;
pub mod idle_ops;
pub mod join_ops;
pub mod keyed_ops;
pub mod str_ops;
pub mod time_ops;
pub mod ttl_ops;
pub mod user_crate;
pub mod webdriver;
pub mod window_ops;
pub mod window_property_ops;
pub mod wordcount_ops;

gale::include_topology!("groupings");
gale::include_topology!("fused");
gale::include_topology!("unfused");
gale::include_topology!("backpressure");
gale::include_topology!("chain");
gale::include_topology!("acking");
gale::include_topology!("acking_timeout");
gale::include_topology!("acking_pending");
gale::include_topology!("cluster_acking");
gale::include_topology!("keyed_state");
gale::include_topology!("windows");
gale::include_topology!("windows_late");
gale::include_topology!("windows_properties");
gale::include_topology!("processing_time");
gale::include_topology!("joins");
gale::include_topology!("state_ttl");
gale::include_topology!("windows_idle");
gale::include_topology!("windows_aggregations");
gale::include_topology!("checkpoints");
gale::include_topology!("exactly_once");
gale::include_topology!("exactly_once_rescaled");
gale::include_topology!("str_keys");
