//! `/metrics` in the Prometheus text format, written by Prometheus's own client library
//! (`prometheus-client`) from a snapshot taken per scrape: the cluster's supervisors and
//! slots (nimbus), each topology's state (nimbus), each component's counters, queue depth,
//! backpressure, watermark and complete latency (nimbus: all workers together; a worker:
//! its own tasks), and each task's counters (a worker).
//!
//! Names follow Prometheus's conventions: `gale_` first, base units (seconds, bytes),
//! counters end in `_total`; labels `topology` (its name), `topology_id`, `component`,
//! `task` and `worker`.

use super::view::{CheckpointsView, PlanView};
use crate::exec::metrics::ComponentReading;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::exemplar::Exemplar;
use prometheus_client::registry::Registry;

/// The `Content-Type` of the Prometheus text format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Upper bounds (seconds) of the complete-latency histogram's buckets.
pub const LATENCY_BUCKETS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// The cluster as nimbus sees it.
#[derive(Debug, Clone, Default)]
pub struct ClusterSnapshot {
    /// Supervisors that heartbeat.
    pub supervisors_alive: u32,
    /// Supervisors that stopped.
    pub supervisors_dead: u32,
    /// Slots running workers.
    pub slots_used: u32,
    /// Slots free.
    pub slots_free: u32,
}

/// One topology's part of a scrape.
#[derive(Debug, Clone)]
pub struct TopologySnapshot {
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its status (nimbus).
    pub status: Option<String>,
    /// Seconds since it was submitted (nimbus).
    pub uptime_seconds: Option<f64>,
    /// Its workers (nimbus).
    pub workers: Option<u32>,
    /// Worker restarts (nimbus).
    pub restarts: Option<u32>,
    /// Its plan.
    pub plan: PlanView,
    /// Its components' readings, plan order.
    pub readings: Vec<ComponentReading>,
    /// Its checkpoints (exactly_once, nimbus).
    pub checkpoints: Option<CheckpointsView>,
    /// The worker these readings are from (a worker's own `/metrics`): per task metrics
    /// are written, labelled with it.
    pub worker: Option<u32>,
}

/// Everything one scrape writes.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// The cluster (nimbus only).
    pub cluster: Option<ClusterSnapshot>,
    /// The topologies.
    pub topologies: Vec<TopologySnapshot>,
}

impl Snapshot {
    /// The text of a scrape.
    pub fn render(self) -> String {
        let mut registry = Registry::default();
        registry.register_collector(Box::new(self));
        let mut out = String::new();
        // Writing into a String cannot fail; an encoder error would be a bug in a name.
        if let Err(e) = prometheus_client::encoding::prometheus_text::encode(&mut out, &registry) {
            out.push_str(&format!("# encoding failed: {e}\n"));
        }
        out
    }
}

type Labels = Vec<(&'static str, String)>;

/// One metric family being written.
struct Family<'a> {
    encoder: MetricEncoder<'a>,
}

impl Family<'_> {
    fn counter(&mut self, labels: &Labels, v: u64) -> Result<(), std::fmt::Error> {
        self.encoder
            .encode_family(labels)?
            .encode_counter::<NoLabelSet, _, f64>(&v, None::<&Exemplar<NoLabelSet, f64>>)
    }

    fn counter_f64(&mut self, labels: &Labels, v: f64) -> Result<(), std::fmt::Error> {
        self.encoder
            .encode_family(labels)?
            .encode_counter::<NoLabelSet, _, f64>(&v, None::<&Exemplar<NoLabelSet, f64>>)
    }

    fn gauge<V: prometheus_client::encoding::EncodeGaugeValue>(
        &mut self,
        labels: &Labels,
        v: V,
    ) -> Result<(), std::fmt::Error> {
        self.encoder.encode_family(labels)?.encode_gauge(&v)
    }
}

/// Writes one family: `each` is called with the family to write its label sets.
fn family(
    encoder: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    kind: MetricType,
    each: impl FnOnce(&mut Family<'_>) -> Result<(), std::fmt::Error>,
) -> Result<(), std::fmt::Error> {
    let metric = encoder.encode_descriptor(name, help, None, kind)?;
    each(&mut Family { encoder: metric })
}

fn topology_labels(t: &TopologySnapshot) -> Labels {
    vec![("topology", t.name.clone()), ("topology_id", t.id.clone())]
}

fn component_labels(t: &TopologySnapshot, component: &str) -> Labels {
    let mut l = topology_labels(t);
    l.push(("component", component.to_string()));
    if let Some(w) = t.worker {
        l.push(("worker", w.to_string()));
    }
    l
}

/// Every (topology, component, reading).
fn components(s: &Snapshot) -> impl Iterator<Item = (&TopologySnapshot, &str, &ComponentReading)> {
    s.topologies.iter().flat_map(|t| {
        t.plan
            .components
            .iter()
            .zip(&t.readings)
            .map(move |(c, r)| (t, c.name.as_str(), r))
    })
}

/// A component counter family.
fn component_counter(
    s: &Snapshot,
    encoder: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    value: impl Fn(&ComponentReading) -> u64,
) -> Result<(), std::fmt::Error> {
    family(encoder, name, help, MetricType::Counter, |f| {
        for (t, c, r) in components(s) {
            f.counter(&component_labels(t, c), value(r))?;
        }
        Ok(())
    })
}

/// A task counter family (a worker's own scrape).
fn task_family(
    s: &Snapshot,
    encoder: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    kind: MetricType,
    value: impl Fn(&crate::exec::metrics::TaskReading) -> f64,
) -> Result<(), std::fmt::Error> {
    family(encoder, name, help, kind, |f| {
        for (t, c, r) in components(s).filter(|(t, _, _)| t.worker.is_some()) {
            for task in &r.tasks {
                let mut labels = component_labels(t, c);
                labels.push(("task", task.task.to_string()));
                match kind {
                    MetricType::Counter => f.counter_f64(&labels, value(task))?,
                    _ => f.gauge(&labels, value(task))?,
                }
            }
        }
        Ok(())
    })
}

impl Collector for Snapshot {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let e = &mut encoder;
        if let Some(c) = &self.cluster {
            family(
                e,
                "gale_supervisors",
                "Supervisors by state.",
                MetricType::Gauge,
                |f| {
                    f.gauge(&vec![("state", "alive".into())], c.supervisors_alive)?;
                    f.gauge(&vec![("state", "dead".into())], c.supervisors_dead)
                },
            )?;
            family(
                e,
                "gale_slots",
                "Worker slots of live supervisors, by state.",
                MetricType::Gauge,
                |f| {
                    f.gauge(&vec![("state", "used".into())], c.slots_used)?;
                    f.gauge(&vec![("state", "free".into())], c.slots_free)
                },
            )?;
        }
        let nimbus: Vec<&TopologySnapshot> = self
            .topologies
            .iter()
            .filter(|t| t.status.is_some())
            .collect();
        if !nimbus.is_empty() {
            family(
                e,
                "gale_topology_info",
                "A topology and its status (always 1).",
                MetricType::Gauge,
                |f| {
                    for t in &nimbus {
                        let mut l = topology_labels(t);
                        l.push(("status", t.status.clone().unwrap_or_default()));
                        f.gauge(&l, 1u32)?;
                    }
                    Ok(())
                },
            )?;
            family(
                e,
                "gale_topology_uptime_seconds",
                "Seconds since the topology was submitted.",
                MetricType::Gauge,
                |f| {
                    for t in &nimbus {
                        f.gauge(&topology_labels(t), t.uptime_seconds.unwrap_or(0.0))?;
                    }
                    Ok(())
                },
            )?;
            family(
                e,
                "gale_topology_workers",
                "Worker processes of the topology's assignment.",
                MetricType::Gauge,
                |f| {
                    for t in &nimbus {
                        f.gauge(&topology_labels(t), t.workers.unwrap_or(0))?;
                    }
                    Ok(())
                },
            )?;
            family(
                e,
                "gale_topology_worker_restarts",
                "Restarts of the current workers by their supervisors (a gauge: a rebalance starts new workers).",
                MetricType::Gauge,
                |f| {
                    for t in &nimbus {
                        f.gauge(&topology_labels(t), t.restarts.unwrap_or(0))?;
                    }
                    Ok(())
                },
            )?;
        }
        component_counter(
            self,
            e,
            "gale_component_emitted",
            "Tuples the component emitted.",
            |r| r.emitted,
        )?;
        component_counter(
            self,
            e,
            "gale_component_executed",
            "Tuples the component executed.",
            |r| r.executed,
        )?;
        component_counter(
            self,
            e,
            "gale_component_acked",
            "Bolts: inputs acked. Spouts: tuple trees completed.",
            |r| r.acked,
        )?;
        component_counter(
            self,
            e,
            "gale_component_failed",
            "Bolts: inputs failed. Spouts: tuple trees failed.",
            |r| r.failed,
        )?;
        component_counter(
            self,
            e,
            "gale_component_late",
            "Windows: tuples sent to the late stream.",
            |r| r.late,
        )?;
        family(
            e,
            "gale_component_backpressure_seconds",
            "Seconds the component's tasks spent blocked sending downstream.",
            MetricType::Counter,
            |f| {
                for (t, c, r) in components(self) {
                    f.counter_f64(&component_labels(t, c), r.blocked_ns() as f64 / 1e9)?;
                }
                Ok(())
            },
        )?;
        family(
            e,
            "gale_component_queue_depth",
            "Batches waiting in the input queues of the component's executors (the largest).",
            MetricType::Gauge,
            |f| {
                for (t, c, r) in components(self) {
                    f.gauge(&component_labels(t, c), r.queue_depth())?;
                }
                Ok(())
            },
        )?;
        family(
            e,
            "gale_component_watermark_seconds",
            "Event time the component has reached (its lowest task watermark), seconds since the Unix epoch.",
            MetricType::Gauge,
            |f| {
                for (t, c, r) in components(self) {
                    if let Some(wm) = r.watermark_ms() {
                        f.gauge(&component_labels(t, c), wm as f64 / 1000.0)?;
                    }
                }
                Ok(())
            },
        )?;
        family(
            e,
            "gale_complete_latency_seconds",
            "Spouts: emit-to-complete latency of tuple trees.",
            MetricType::Histogram,
            |f| {
                for (t, c, r) in components(self) {
                    let spout = t
                        .plan
                        .components
                        .iter()
                        .any(|p| p.name == c && p.kind == "spout");
                    if !spout || r.latency.count() == 0 {
                        continue;
                    }
                    let mut below = 0;
                    let buckets: Vec<(f64, u64)> = LATENCY_BUCKETS
                        .iter()
                        .map(|&s| {
                            let upto = r.latency.count_at_or_below((s * 1e6) as u64);
                            let n = upto - below;
                            below = upto;
                            (s, n)
                        })
                        .collect();
                    f.encoder
                        .encode_family(&component_labels(t, c))?
                        .encode_histogram::<NoLabelSet>(
                            r.latency.sum() as f64 / 1e6,
                            r.latency.count(),
                            &buckets,
                            None,
                        )?;
                }
                Ok(())
            },
        )?;
        task_family(
            self,
            e,
            "gale_task_emitted",
            "Tuples the task emitted.",
            MetricType::Counter,
            |t| t.emitted as f64,
        )?;
        task_family(
            self,
            e,
            "gale_task_executed",
            "Tuples the task executed.",
            MetricType::Counter,
            |t| t.executed as f64,
        )?;
        task_family(
            self,
            e,
            "gale_task_acked",
            "Inputs (bolts) or tuple trees (spouts) the task acked.",
            MetricType::Counter,
            |t| t.acked as f64,
        )?;
        task_family(
            self,
            e,
            "gale_task_failed",
            "Inputs (bolts) or tuple trees (spouts) the task failed.",
            MetricType::Counter,
            |t| t.failed as f64,
        )?;
        task_family(
            self,
            e,
            "gale_task_backpressure_seconds",
            "Seconds the task spent blocked sending downstream.",
            MetricType::Counter,
            |t| t.blocked_ns as f64 / 1e9,
        )?;
        task_family(
            self,
            e,
            "gale_task_queue_depth",
            "Batches waiting in the input queue of the task's executor.",
            MetricType::Gauge,
            |t| t.queue_depth as f64,
        )?;
        let checkpointed: Vec<(&TopologySnapshot, &CheckpointsView)> = self
            .topologies
            .iter()
            .filter_map(|t| t.checkpoints.as_ref().map(|c| (t, c)))
            .collect();
        if !checkpointed.is_empty() {
            family(
                e,
                "gale_checkpoints_completed",
                "Checkpoints completed.",
                MetricType::Counter,
                |f| {
                    for (t, c) in &checkpointed {
                        f.counter(&topology_labels(t), c.completed)?;
                    }
                    Ok(())
                },
            )?;
            family(
                e,
                "gale_checkpoints_failed",
                "Checkpoints failed.",
                MetricType::Counter,
                |f| {
                    for (t, c) in &checkpointed {
                        f.counter(&topology_labels(t), c.failed)?;
                    }
                    Ok(())
                },
            )?;
            family(
                e,
                "gale_checkpoint_last_duration_seconds",
                "Trigger-to-complete time of the newest checkpoint.",
                MetricType::Gauge,
                |f| {
                    for (t, c) in &checkpointed {
                        f.gauge(&topology_labels(t), c.last_duration_ms as f64 / 1000.0)?;
                    }
                    Ok(())
                },
            )?;
            family(
                e,
                "gale_checkpoint_last_size_bytes",
                "Size of the newest checkpoint.",
                MetricType::Gauge,
                |f| {
                    for (t, c) in &checkpointed {
                        f.gauge(&topology_labels(t), c.last_bytes)?;
                    }
                    Ok(())
                },
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::metrics::TaskReading;
    use crate::web::view::ComponentPlanView;

    fn plan() -> PlanView {
        let component = |name: &str, kind: &str| ComponentPlanView {
            name: name.into(),
            kind: kind.into(),
            operator: String::new(),
            chain: 0,
            tasks: 1,
            first_task: 0,
            line: 3,
        };
        PlanView {
            workers: 1,
            ackers: 1,
            config: Default::default(),
            chains: Vec::new(),
            components: vec![component("words", "spout"), component("count", "bolt")],
            edges: Vec::new(),
        }
    }

    #[test]
    fn a_worker_scrape_has_counters_tasks_and_a_latency_histogram() {
        let mut spout = ComponentReading {
            emitted: 10,
            acked: 9,
            ..Default::default()
        };
        for us in [500, 2_000, 2_000_000] {
            spout.latency.record(us);
        }
        let bolt = ComponentReading {
            executed: 7,
            tasks: vec![TaskReading {
                task: 4,
                executed: 7,
                blocked_ns: 1_500_000_000,
                ..Default::default()
            }],
            ..Default::default()
        };
        let text = Snapshot {
            cluster: None,
            topologies: vec![TopologySnapshot {
                id: "wc-1".into(),
                name: "wc".into(),
                status: None,
                uptime_seconds: None,
                workers: None,
                restarts: None,
                plan: plan(),
                readings: vec![spout, bolt],
                checkpoints: None,
                worker: Some(0),
            }],
        }
        .render();
        for want in [
            "# TYPE gale_component_executed_total counter",
            "gale_component_executed_total{topology=\"wc\",topology_id=\"wc-1\",component=\"count\",worker=\"0\"} 7",
            "gale_task_executed_total{topology=\"wc\",topology_id=\"wc-1\",component=\"count\",worker=\"0\",task=\"4\"} 7",
            "gale_task_backpressure_seconds_total{topology=\"wc\",topology_id=\"wc-1\",component=\"count\",worker=\"0\",task=\"4\"} 1.5",
            "# TYPE gale_complete_latency_seconds histogram",
            "gale_complete_latency_seconds_bucket{topology=\"wc\",topology_id=\"wc-1\",component=\"words\",worker=\"0\",le=\"0.001\"} 1",
            "gale_complete_latency_seconds_bucket{topology=\"wc\",topology_id=\"wc-1\",component=\"words\",worker=\"0\",le=\"2.5\"} 3",
            "gale_complete_latency_seconds_bucket{topology=\"wc\",topology_id=\"wc-1\",component=\"words\",worker=\"0\",le=\"+Inf\"} 3",
            "gale_complete_latency_seconds_count{topology=\"wc\",topology_id=\"wc-1\",component=\"words\",worker=\"0\"} 3",
        ] {
            assert!(text.contains(want), "no `{want}` in:\n{text}");
        }
        assert!(!text.contains("gale_supervisors"), "{text}");
    }
}
