//! What a worker's heartbeat says about its tasks: each component's counters, its tasks'
//! counters, its spouts' latency histogram, queue depths, backpressure, errors and
//! watermarks, read from the worker's [`Metrics`].

use crate::cluster::proto::{ComponentStats, ErrorReport, LatencyHistogram, TaskStats};
use crate::exec::metrics::{ComponentReading, Metrics};
use crate::exec::placement::Placement;
use crate::topology::{Kind, TopologyDesc};
use std::time::Instant;

/// The counters of the worker's components at one moment.
#[derive(Debug, Clone)]
pub struct Reading {
    at: Instant,
    components: Vec<ComponentReading>,
}

impl Reading {
    /// Reads the tasks `placement` runs here.
    pub fn take(desc: &TopologyDesc, metrics: &Metrics, placement: &Placement) -> Reading {
        Reading {
            at: Instant::now(),
            components: metrics.read(desc, |chain, e| placement.is_local(chain, e)),
        }
    }
}

/// The heartbeat's stats at `now`, with rates since `before`.
pub fn stats(desc: &TopologyDesc, before: &Reading, now: &Reading) -> Vec<ComponentStats> {
    let secs = now.at.duration_since(before.at).as_secs_f64().max(1e-3);
    desc.components
        .iter()
        .zip(&now.components)
        .zip(&before.components)
        .map(|((c, r), b)| {
            let rate = |now: u64, before: u64| now.saturating_sub(before) as f64 / secs;
            let latency = (r.latency.count() > 0).then(|| {
                let (buckets, counts) = r.latency.buckets().unzip();
                LatencyHistogram {
                    buckets,
                    counts,
                    sum_us: r.latency.sum(),
                }
            });
            ComponentStats {
                component: c.name.to_string(),
                emitted: r.emitted,
                executed: r.executed,
                acked: r.acked,
                failed: r.failed,
                late: r.late,
                rate: if c.kind == Kind::Spout {
                    rate(r.emitted, b.emitted)
                } else {
                    rate(r.executed, b.executed)
                },
                tasks: r
                    .tasks
                    .iter()
                    .map(|t| TaskStats {
                        task: t.task,
                        emitted: t.emitted,
                        executed: t.executed,
                        acked: t.acked,
                        failed: t.failed,
                        queue_depth: t.queue_depth,
                        blocked_us: t.blocked_ns / 1_000,
                    })
                    .collect(),
                latency,
                queue_depth: r.queue_depth(),
                blocked_us: r.blocked_ns() / 1_000,
                errors: r
                    .errors
                    .iter()
                    .map(|e| ErrorReport {
                        time_ms: e.time_ms,
                        task: e.task,
                        message: e.message.clone(),
                        seq: e.seq,
                    })
                    .collect(),
                watermark_ms: r.watermark_ms().unwrap_or(0),
                has_watermark: r.watermark_ms().is_some(),
                // Nimbus's, from its history.
                emitted_per_second: 0.0,
                executed_per_second: 0.0,
            }
        })
        .collect()
}

/// What a worker's own `/metrics` reads: its tasks' counters.
#[derive(Clone)]
pub struct WorkerMetrics {
    /// The topology's id.
    pub topology_id: String,
    /// The worker's index.
    pub worker: u32,
    /// The plan the worker runs.
    pub desc: &'static TopologyDesc,
    /// Its counters.
    pub metrics: std::sync::Arc<Metrics>,
    /// Which executors run here.
    pub placement: std::sync::Arc<Placement>,
}

impl WorkerMetrics {
    /// The text of a scrape.
    pub fn render(&self) -> String {
        let mut readings = self
            .metrics
            .read(self.desc, |chain, e| self.placement.is_local(chain, e));
        for r in &mut readings {
            for t in &mut r.tasks {
                t.worker = Some(self.worker);
            }
        }
        let executors: Vec<u32> = self.desc.chains.iter().map(|c| c.parallelism).collect();
        crate::web::prometheus::Snapshot {
            cluster: None,
            topologies: vec![crate::web::prometheus::TopologySnapshot {
                id: self.topology_id.clone(),
                name: self.desc.name.to_string(),
                status: None,
                uptime_seconds: None,
                workers: None,
                restarts: None,
                plan: crate::web::view::PlanView::of_desc(self.desc, &executors, 0),
                readings,
                checkpoints: None,
                worker: Some(self.worker),
            }],
        }
        .render()
    }

    /// Serves `GET /metrics` on an ephemeral port of `ip` (HTTPS with `tls`) in `rt`;
    /// returns the port.
    pub fn serve(
        self,
        rt: &tokio::runtime::Runtime,
        ip: std::net::IpAddr,
        tls: Option<std::sync::Arc<tokio_rustls::rustls::ServerConfig>>,
    ) -> Result<u16, String> {
        use axum::http::header;
        let listener = rt
            .block_on(tokio::net::TcpListener::bind((ip, 0)))
            .map_err(|e| format!("cannot listen on {ip} for /metrics: {e}"))?;
        let port = listener
            .local_addr()
            .map_err(|e| format!("the /metrics listener: {e}"))?
            .port();
        let app = axum::Router::new().route(
            "/metrics",
            axum::routing::get(move || {
                let me = self.clone();
                async move {
                    (
                        [(header::CONTENT_TYPE, crate::web::prometheus::CONTENT_TYPE)],
                        me.render(),
                    )
                }
            }),
        );
        let _guard = rt.enter();
        crate::web::spawn(listener, tls, app, "worker's /metrics")
            .map_err(|e| format!("the /metrics server: {e}"))?;
        Ok(port)
    }
}
