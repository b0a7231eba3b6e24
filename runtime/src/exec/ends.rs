//! End of stream, per producer: which producers feed a task's input, and when that input
//! is complete. (A bolt task's ends are kept per input channel by [`super::channels`];
//! [`EndSet`] serves the ackers, whose input is one merged lane.)
//!
//! A task's input is complete once every one of its producers (an upstream task on a
//! non-fused edge into its chain's head; for an acker, every task of the topology) has
//! ended. Ends are recorded per producer, never counted: a repeated end (sent again after
//! a reconnection) and an end from a producer that does not feed the task change nothing,
//! so neither can complete an input early.

use super::placement::Placement;
use crate::topology::{Kind, TopologyDesc};
use crate::transport::Upstream;
use crate::transport::net::ChannelId;
use crate::transport::remote::{Lane, channel_id, input_channel_id};
use std::collections::HashSet;

/// The producers of the input of a task of the chain headed by component `head`.
pub(crate) fn upstreams(desc: &TopologyDesc, head: usize) -> Vec<Upstream> {
    desc.edges
        .iter()
        .enumerate()
        .filter(|(_, e)| e.to == head && !e.fused)
        .flat_map(|(i, e)| {
            let from = &desc.components[e.from];
            (0..from.tasks).map(move |t| Upstream::new(from.first_task + t, i as u32))
        })
        .collect()
}

/// The producers of an acker task's input: every task of the topology.
pub(crate) fn acker_upstreams(desc: &TopologyDesc) -> Vec<Upstream> {
    desc.components
        .iter()
        .flat_map(|c| (0..c.tasks).map(move |t| Upstream::acking(c.first_task + t)))
        .collect()
}

/// The producers of one task's input that have not ended yet.
#[derive(Debug, Clone)]
pub(crate) struct EndSet {
    waiting: HashSet<Upstream>,
}

impl EndSet {
    /// Waiting for every one of `producers`.
    pub(crate) fn new(producers: &[Upstream]) -> EndSet {
        EndSet {
            waiting: producers.iter().copied().collect(),
        }
    }

    /// Records that `from` ended; true exactly once: when this end completes the input.
    pub(crate) fn record(&mut self, from: Upstream) -> bool {
        self.waiting.remove(&from) && self.waiting.is_empty()
    }

    /// True when every producer has ended.
    pub(crate) fn is_complete(&self) -> bool {
        self.waiting.is_empty()
    }
}

/// For each input channel of this worker's tasks, the producers (as data-plane ids) that
/// run on one of `finished` workers: those workers have exited after ending every stream
/// and cannot send their ends again, so a (re)starting worker treats them as ended.
pub(crate) fn ended_by_finished(
    desc: &TopologyDesc,
    placement: &Placement,
    finished: &[u32],
) -> Vec<(ChannelId, Vec<u64>)> {
    let me = placement.me();
    let on_finished = |u: &Upstream| {
        placement
            .worker_of_task(desc, u.task)
            .is_some_and(|w| w != me && finished.contains(&w))
    };
    let mut out = Vec::new();
    if finished.iter().all(|&w| w == me) {
        return out;
    }
    for chain in desc.chains.iter() {
        let head = chain.components[0];
        if desc.components[head].kind != Kind::Bolt {
            continue;
        }
        let ended: Vec<u64> = upstreams(desc, head)
            .iter()
            .filter(|u| on_finished(u))
            .map(|u| u.to_u64())
            .collect();
        if ended.is_empty() {
            continue;
        }
        for task in placement.local_tasks(desc, head) {
            let task = desc.components[head].first_task + task as u32;
            for &p in &ended {
                out.push((input_channel_id(Upstream::from_u64(p), task), vec![p]));
            }
        }
    }
    if super::wiring::tracking(desc) {
        let ended: Vec<u64> = acker_upstreams(desc)
            .iter()
            .filter(|u| on_finished(u))
            .map(|u| u.to_u64())
            .collect();
        if !ended.is_empty() {
            let first = super::wiring::first_acker_task(desc);
            for a in placement.local_ackers() {
                out.push((channel_id(first + a, Lane::Input), ended.clone()));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topology::{
        ChainDesc, ComponentDesc, EdgeDesc, Guarantee, Settings, StreamDesc, TopologyDesc,
    };

    /// `ids` (spout, 2 tasks) -> `sink` (2 tasks), at least once: tasks 1, 2 and 3, 4;
    /// ackers 5 and 6.
    fn desc() -> TopologyDesc {
        let component = |name, kind, first_task, chain| ComponentDesc {
            name,
            kind,
            operator: name,
            input: None,
            streams: &[] as &[StreamDesc],
            parallelism: 2,
            tasks: 2,
            first_task,
            chain,
            line: 1,
            retry: None,
            idle_ms: 0,
            uid: "",
            state_schema: "",
        };
        TopologyDesc {
            name: "t",
            source: "t.topo",
            components: Box::leak(Box::new([
                component("ids", Kind::Spout, 1, 0),
                component("sink", Kind::Bolt, 3, 1),
            ])),
            chains: Box::leak(Box::new([
                ChainDesc {
                    components: &[0],
                    parallelism: 2,
                    tasks: 2,
                },
                ChainDesc {
                    components: &[1],
                    parallelism: 2,
                    tasks: 2,
                },
            ])),
            edges: Box::leak(Box::new([EdgeDesc {
                from: 0,
                stream: 0,
                to: 1,
                grouping: "shuffle",
                detail: "",
                fused: false,
            }])),
            settings: Settings {
                guarantee: Guarantee::AtLeastOnce,
                message_timeout_ms: 1000,
                max_spout_pending: None,
                ackers: Some(2),
                workers: 2,
                batch_size: 10,
                queue_capacity: 10,
                max_parallelism: 128,
                checkpoints: crate::checkpoint::CheckpointConfig::NONE,
                restart: crate::checkpoint::RestartStrategy::DEFAULT,
            },
            config: &[],
        }
    }

    #[test]
    fn a_restarted_worker_treats_the_streams_of_finished_workers_as_ended() {
        let desc = desc();
        assert_eq!(
            upstreams(&desc, 1),
            [Upstream::new(1, 0), Upstream::new(2, 0)]
        );
        assert_eq!(acker_upstreams(&desc).len(), 4);
        // Executor 0 of each chain and acker 0 on worker 0; the others on worker 1.
        let placement = Placement::worker(1, vec![vec![0, 1], vec![0, 1]], vec![0, 1]);
        let ended = ended_by_finished(&desc, &placement, &[0]);
        assert_eq!(
            ended,
            [
                // Sink task 4 here: spout task 1 (on worker 0) has ended.
                (
                    input_channel_id(Upstream::new(1, 0), 4),
                    vec![Upstream::new(1, 0).to_u64()]
                ),
                // Acker 1 (task 6) here: tasks 1 and 3 (on worker 0) have ended.
                (
                    channel_id(6, Lane::Input),
                    vec![Upstream::acking(1).to_u64(), Upstream::acking(3).to_u64()]
                ),
            ]
        );
        // Nothing finished, or only this worker: nothing ended.
        assert!(ended_by_finished(&desc, &placement, &[]).is_empty());
        assert!(ended_by_finished(&desc, &placement, &[1]).is_empty());
    }

    #[test]
    fn an_input_completes_once_every_producer_ended_whatever_the_repeats() {
        let producers = [
            Upstream::new(1, 0),
            Upstream::new(2, 0),
            Upstream::new(1, 3),
        ];
        let mut ends = EndSet::new(&producers);
        assert!(!ends.record(Upstream::new(1, 0)));
        // A repeat, and a producer that does not feed the task, change nothing.
        assert!(!ends.record(Upstream::new(1, 0)));
        assert!(!ends.record(Upstream::new(9, 0)));
        assert!(!ends.record(Upstream::new(2, 0)));
        assert!(!ends.is_complete());
        assert!(ends.record(Upstream::new(1, 3)));
        assert!(ends.is_complete());
        // Once only.
        assert!(!ends.record(Upstream::new(1, 3)));
    }

    #[test]
    fn producer_ids_round_trip() {
        for u in [
            Upstream::new(0, 0),
            Upstream::new(u32::MAX, 7),
            Upstream::acking(42),
        ] {
            assert_eq!(Upstream::from_u64(u.to_u64()), u);
        }
    }
}
