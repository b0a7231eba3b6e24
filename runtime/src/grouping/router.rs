//! A stream's exit from a chain: applies a grouping and batches tuples per target task.

use super::{Choice, Grouping, Targets};
use crate::ack::{Anchoring, TupleIds};
use crate::api::{Emitter, TaskId};
use crate::exec::chain::Downstream;
use crate::exec::wiring::Wiring;
use crate::transport::{TaskSender, Upstream};

/// Routes one edge: grouping, then one batch buffer per consumer task. A full batch is sent
/// at once (blocking while the consumer's queue is full); partial batches are sent on
/// [`flush`](Downstream::flush) when the executor runs out of input.
///
/// With acking on, every tuple copy also gets its tree ids (fresh edge ids per copy, see
/// [`Anchoring::child_ids`]), carried beside the tuples in the batch.
///
/// `W` makes each tuple its consumer's input: [`Same`] (the tuple as it is) or, into a
/// bolt whose input is a stream set, [`Variant`] (the set's variant for the edge's stream).
/// The grouping sees the tuple before it is wrapped.
#[derive(Debug)]
pub struct Router<T, G, W: Wrap<T> = Same> {
    edge: usize,
    grouping: G,
    wrap: W,
    targets: Vec<TaskSender<W::Out>>,
    buffers: Vec<Vec<W::Out>>,
    /// Per target, the ids of the buffered tuples (only used when `tracking`).
    ids: Vec<Vec<TupleIds>>,
    tracking: bool,
    batch: usize,
    first_task: TaskId,
    /// The task this router sends from (named in its end of stream).
    source: TaskId,
    chosen: Vec<usize>,
    /// Nanoseconds spent waiting for room in a full queue since the last report.
    blocked_ns: u64,
}

/// How a router's tuples become its consumer's input.
pub trait Wrap<T>: Send + 'static {
    /// The consumer's input type.
    type Out: Send + 'static;
    /// `t` as the consumer's input.
    fn wrap(&self, t: T) -> Self::Out;
}

/// Tuples go as they are: the consumer's input is the edge's schema.
#[derive(Debug, Clone, Copy, Default)]
pub struct Same;

impl<T: Send + 'static> Wrap<T> for Same {
    type Out = T;
    #[inline]
    fn wrap(&self, t: T) -> T {
        t
    }
}

/// Tuples become one variant of the consumer's input stream set (`Payments::Orders`).
#[derive(Clone, Copy)]
pub struct Variant<F>(pub F);

impl<F> std::fmt::Debug for Variant<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Variant")
    }
}

impl<T, U, F> Wrap<T> for Variant<F>
where
    U: Send + 'static,
    F: Fn(T) -> U + Send + 'static,
{
    type Out = U;
    #[inline]
    fn wrap(&self, t: T) -> U {
        (self.0)(t)
    }
}

impl<T: Send + 'static, G: Grouping<T>> Router<T, G> {
    /// The router of edge `edge` of the plan, for the task being wired.
    pub fn new(wiring: &Wiring, edge: usize, grouping: G) -> Self {
        Router::wrapping(wiring, edge, grouping, Same)
    }
}

impl<T: Send + 'static, G: Grouping<T>, W: Wrap<T>> Router<T, G, W> {
    /// The router of edge `edge`, making each tuple its consumer's input with `wrap`.
    pub fn wrapping(wiring: &Wiring, edge: usize, grouping: G, wrap: W) -> Self {
        let e = &wiring.desc().edges[edge];
        let source = wiring.task_id(e.from);
        let targets = wiring.channel_senders::<W::Out>(e.to, Upstream::new(source, edge as u32));
        let batch = wiring.batch_size();
        let tracking = wiring.tracking();
        Router {
            edge,
            grouping,
            wrap,
            buffers: targets.iter().map(|_| Vec::with_capacity(batch)).collect(),
            ids: targets
                .iter()
                .map(|_| Vec::with_capacity(if tracking { batch } else { 0 }))
                .collect(),
            targets,
            tracking,
            batch,
            first_task: wiring.desc().components[e.to].first_task,
            source,
            chosen: Vec::new(),
            blocked_ns: 0,
        }
    }

    #[inline]
    fn push(&mut self, i: usize, t: T) {
        if self.tracking {
            // An unanchored tuple in a tracked topology: it carries no trees.
            return self.push_tracked(i, t, TupleIds::None);
        }
        let buf = &mut self.buffers[i];
        buf.push(self.wrap.wrap(t));
        if buf.len() >= self.batch {
            self.send(i);
        }
    }

    #[inline]
    fn push_tracked(&mut self, i: usize, t: T, ids: TupleIds) {
        self.buffers[i].push(self.wrap.wrap(t));
        self.ids[i].push(ids);
        if self.buffers[i].len() >= self.batch {
            self.send(i);
        }
    }

    fn send(&mut self, i: usize) {
        let tuples = std::mem::replace(&mut self.buffers[i], Vec::with_capacity(self.batch));
        let ids = if self.tracking {
            std::mem::replace(&mut self.ids[i], Vec::with_capacity(self.batch))
        } else {
            Vec::new()
        };
        let target = &self.targets[i];
        match target.send_batch_timed(tuples, ids) {
            Ok(waited) => self.blocked_ns += waited,
            Err(_) => panic!(
                "gale: task {} stopped while tuples were still being sent to it",
                target.task()
            ),
        }
    }

    /// The target of `tuple` when there is one (the common case, no list), else `None`
    /// with the targets in `self.chosen`.
    #[inline]
    fn choose(&mut self, tuple: &T) -> Option<usize> {
        let direct = self.grouping.is_direct();
        match self.grouping.choose(tuple) {
            Choice::One(i) => Some(i),
            Choice::All => {
                self.chosen.clear();
                self.chosen.extend(0..self.targets.len());
                None
            }
            Choice::Many(list) => {
                if list.is_empty() && direct {
                    panic!(
                        "gale: `emit` on a direct stream (edge {}): use `emit_direct(task, tuple)`",
                        self.edge
                    );
                }
                self.chosen.clear();
                self.chosen.extend_from_slice(list);
                None
            }
        }
    }

    /// Sends `tuple` to every chosen target, cloning for all but the last; with
    /// `anchoring`, each copy gets its own edge ids.
    fn fan_out(&mut self, tuple: T, mut anchoring: Option<&mut Anchoring<'_>>)
    where
        T: Clone,
    {
        let chosen = std::mem::take(&mut self.chosen);
        if let Some((&last, rest)) = chosen.split_last() {
            for &i in rest {
                match anchoring.as_mut() {
                    Some(a) => self.push_tracked(i, tuple.clone(), a.child_ids()),
                    None => self.push(i, tuple.clone()),
                }
            }
            match anchoring {
                Some(a) => self.push_tracked(last, tuple, a.child_ids()),
                None => self.push(last, tuple),
            }
        }
        self.chosen = chosen;
    }

    /// The target index of direct task `task`, if it consumes this edge.
    fn direct_target(&self, task: TaskId) -> Option<usize> {
        if !self.grouping.is_direct() {
            panic!(
                "gale: `emit_direct` on a stream that is not declared direct (edge {})",
                self.edge
            );
        }
        let i = task.wrapping_sub(self.first_task) as usize;
        (i < self.targets.len()).then_some(i)
    }
}

impl<T: Clone + Send + 'static, G: Grouping<T>, W: Wrap<T>> Emitter<T> for Router<T, G, W> {
    #[inline]
    fn emit(&mut self, tuple: T) {
        match self.choose(&tuple) {
            Some(i) => self.push(i, tuple),
            None => self.fan_out(tuple, None),
        }
    }

    fn emit_direct(&mut self, task: TaskId, tuple: T) {
        if let Some(i) = self.direct_target(task) {
            self.push(i, tuple);
        }
    }
}

impl<T: Clone + Send + 'static, G: Grouping<T>, W: Wrap<T>> Downstream<T> for Router<T, G, W> {
    #[inline]
    fn emit_tracked(&mut self, tuple: T, anchoring: &mut Anchoring<'_>) {
        match self.choose(&tuple) {
            Some(i) => {
                let ids = anchoring.child_ids();
                self.push_tracked(i, tuple, ids);
            }
            None => self.fan_out(tuple, Some(anchoring)),
        }
    }

    fn emit_direct_tracked(&mut self, task: TaskId, tuple: T, anchoring: &mut Anchoring<'_>) {
        if let Some(i) = self.direct_target(task) {
            let ids = anchoring.child_ids();
            self.push_tracked(i, tuple, ids);
        }
    }

    fn open(&mut self, wiring: &Wiring) {
        let e = &wiring.desc().edges[self.edge];
        let targets = Targets {
            tasks: self.targets.iter().map(|t| t.task()).collect(),
            local: wiring.local_tasks(e.to),
            source: wiring.task_id(e.from),
        };
        self.grouping.prepare(&targets);
    }

    fn flush(&mut self) {
        for i in 0..self.targets.len() {
            if !self.buffers[i].is_empty() {
                self.send(i);
            }
        }
    }

    fn watermark(&mut self, watermark: i64) {
        // After the tuples it covers, on every channel of the edge (each consumer task
        // takes the minimum over its channels).
        self.flush();
        for target in &self.targets {
            // A consumer that stopped has no use for it (its end is reported on `finish`).
            let _ = target.send_control(crate::transport::Control::Watermark(watermark));
        }
    }

    /// The edge to other tasks: no stage of this chain is behind it.
    fn advance_snapshots(&mut self, _budget: std::time::Duration) -> bool {
        false
    }

    /// The consumers time their own inputs.
    fn snapshot_paused(&mut self, _took: std::time::Duration) {}

    fn barrier(&mut self, id: u64, savepoint: bool) {
        // After the tuples before it, on every channel of the edge (each consumer task
        // aligns its channels on it).
        self.flush();
        for target in &self.targets {
            if target
                .send_control(crate::transport::Control::Barrier { id, savepoint })
                .is_err()
            {
                // The checkpoint cannot complete without that task: it times out.
                tracing::warn!(
                    to_task = target.task(),
                    checkpoint = id,
                    "task {} is gone: the barrier of checkpoint {id} did not reach it",
                    target.task()
                );
            }
        }
    }

    fn finish(&mut self) {
        self.flush();
        let from = Upstream::new(self.source, self.edge as u32);
        for target in &self.targets {
            if target.send_end(from).is_err() {
                panic!(
                    "gale: task {} stopped before the end of its input",
                    target.task()
                );
            }
        }
    }

    fn report(&mut self, wiring: &Wiring) {
        if self.blocked_ns > 0 {
            let from = wiring.desc().edges[self.edge].from;
            wiring.metrics().add_blocked(
                from,
                wiring.task_index,
                std::mem::take(&mut self.blocked_ns),
            );
        }
    }
}
