//! The HTTP server of a local run (`run --ui ADDR`): the same REST API, web UI and
//! `/metrics` as nimbus's, for the one topology this process runs. Kill stops its spouts
//! (the run drains and ends, as on Ctrl-C); a local run cannot be rebalanced.

use super::api::{ApiError, Backend, Killed, Rebalanced, Savepointed};
use super::history::History;
use super::prometheus::{Snapshot, TopologySnapshot};
use super::view::{
    self, ActionsView, ClusterView, HistoryView, PlanView, TargetGroup, TopologySummary,
    TopologyView,
};
use crate::exec::local::LiveMetrics;
use crate::exec::metrics::{ComponentReading, Metrics};
use crate::topology::TopologyDesc;
use axum::http::StatusCode;
use futures::future::BoxFuture;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What a local run shows.
pub struct LocalBackend {
    desc: &'static TopologyDesc,
    plan: PlanView,
    live: LiveMetrics,
    stop: Arc<AtomicBool>,
    started: Instant,
    seen: Mutex<Seen>,
}

/// The readings so far.
#[derive(Default)]
struct Seen {
    history: History,
    /// The attempt read last, and the counts of the attempts before it (a restart from a
    /// checkpoint starts counters at zero).
    attempt: Option<Arc<Metrics>>,
    before: Vec<ComponentReading>,
    stopped: bool,
}

impl LocalBackend {
    /// The backend of a run of `desc` whose attempts publish their counters in `live` and
    /// whose spouts `stop` stops.
    pub fn new(desc: &'static TopologyDesc, live: LiveMetrics, stop: Arc<AtomicBool>) -> Self {
        let executors: Vec<u32> = desc.chains.iter().map(|c| c.parallelism).collect();
        LocalBackend {
            desc,
            plan: PlanView::of_desc(desc, &executors, crate::exec::wiring::ackers(desc)),
            live,
            stop,
            started: Instant::now(),
            seen: Mutex::new(Seen::default()),
        }
    }

    /// Reads the counters now, records them in the history, and returns them.
    pub fn sample(&self) -> Vec<ComponentReading> {
        let current = self.live.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        if let (Some(old), Some(new)) = (&seen.attempt, &current)
            && !Arc::ptr_eq(old, new)
        {
            let last = old.read(self.desc, |_, _| true);
            if seen.before.is_empty() {
                seen.before = vec![ComponentReading::default(); last.len()];
            }
            for (b, l) in seen.before.iter_mut().zip(&last) {
                b.absorb(l, false);
            }
        }
        seen.attempt = current.clone();
        let mut readings = match &current {
            Some(m) => m.read(self.desc, |_, _| true),
            None => vec![ComponentReading::default(); self.desc.components.len()],
        };
        for (r, b) in readings.iter_mut().zip(&seen.before) {
            let now = std::mem::take(r);
            *r = b.clone();
            r.absorb(&now, true);
        }
        seen.history
            .record(view::wall_ms(), &readings, &self.plan.spouts());
        readings
    }

    /// Samples every second until the process ends (in a task of the current runtime).
    pub fn spawn_sampler(self: &Arc<Self>) {
        let me = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            loop {
                tick.tick().await;
                me.sample();
            }
        });
    }

    fn id(&self) -> &'static str {
        self.desc.name
    }

    fn summary(&self, history: &History) -> TopologySummary {
        let stopped = self.stop.load(Ordering::Relaxed);
        TopologySummary {
            id: self.id().to_string(),
            name: self.desc.name.to_string(),
            status: if stopped { "stopping" } else { "running" }.to_string(),
            version: 1,
            uptime_ms: self.started.elapsed().as_millis() as u64,
            restarts: 0,
            workers: Vec::new(),
            failure: String::new(),
            throughput: view::throughput(&self.plan, history),
            checkpoints: None,
        }
    }
}

impl Backend for LocalBackend {
    fn mode(&self) -> &'static str {
        "local"
    }

    fn cluster(&self) -> ClusterView {
        ClusterView {
            mode: "local",
            supervisors: Vec::new(),
            slots_total: 0,
            slots_used: 0,
            slots_free: 0,
            topologies: 1,
        }
    }

    fn topologies(&self) -> Vec<TopologySummary> {
        self.sample();
        let seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        vec![self.summary(&seen.history)]
    }

    fn topology(&self, id: &str) -> Option<TopologyView> {
        if id != self.id() {
            return None;
        }
        let readings = self.sample();
        let seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        Some(TopologyView {
            summary: self.summary(&seen.history),
            source: self.desc.source.to_string(),
            latency_ms: view::latency(&self.plan, &readings, &seen.history),
            components: view::components(&self.plan, &readings, &seen.history),
            errors: view::errors(&self.plan, &readings),
            plan: self.plan.clone(),
            actions: ActionsView {
                kill: !seen.stopped,
                rebalance: false,
                savepoint: false,
            },
            time_ms: view::wall_ms(),
        })
    }

    fn history(&self, id: &str) -> Option<HistoryView> {
        if id != self.id() {
            return None;
        }
        let seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        Some(view::history_view(&self.plan, &seen.history))
    }

    fn kill(&self, id: &str) -> Result<Killed, ApiError> {
        if id != self.id() {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                format!("no topology `{id}`"),
            ));
        }
        self.stop.store(true, Ordering::Relaxed);
        self.seen.lock().unwrap_or_else(|p| p.into_inner()).stopped = true;
        tracing::info!(
            topology = id,
            "killed through the web UI: stopping the spouts and draining"
        );
        Ok(Killed {
            killed: vec![id.to_string()],
        })
    }

    fn rebalance(&self, _id: &str, _p: BTreeMap<String, u32>) -> Result<Rebalanced, ApiError> {
        Err(ApiError::new(
            StatusCode::CONFLICT,
            "a local run cannot be rebalanced: submit the topology to a cluster to change its executors while it runs",
        ))
    }

    fn savepoint(
        &self,
        _id: &str,
        _dir: String,
    ) -> BoxFuture<'static, Result<Savepointed, ApiError>> {
        Box::pin(async {
            Err(ApiError::new(
                StatusCode::CONFLICT,
                "savepoints through the web UI need a cluster: a local run takes checkpoints with `run --checkpoint-dir`",
            ))
        })
    }

    fn metrics(&self) -> String {
        let readings = self.sample();
        Snapshot {
            cluster: None,
            topologies: vec![TopologySnapshot {
                id: self.id().to_string(),
                name: self.desc.name.to_string(),
                status: Some(
                    if self.stop.load(Ordering::Relaxed) {
                        "stopping"
                    } else {
                        "running"
                    }
                    .to_string(),
                ),
                uptime_seconds: Some(self.started.elapsed().as_secs_f64()),
                workers: Some(1),
                restarts: Some(0),
                plan: self.plan.clone(),
                readings,
                checkpoints: None,
                worker: Some(0),
            }],
        }
        .render()
    }

    fn targets(&self) -> Vec<TargetGroup> {
        Vec::new()
    }
}
