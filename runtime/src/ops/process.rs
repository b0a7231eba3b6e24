//! `process(T)`: runs a [`ProcessBolt`] with its keyed state. Its compiler half:
//! `gale_compiler::ops` (`process.rs`), which generates the key function from the
//! `fields(...)` of the input edges.

use super::wall_ms;
use crate::api::{
    Bolt, Emitter, ExecResult, Fail, ProcessBolt, SnapshotStep, TaskContext, TaskState,
};
use crate::codec::{Codec, DecodeError};
use crate::grouping::key_group_range;
use crate::state::{KeyedBackend, KeyedContext, OpenContext, StateError, Timers};

/// How often processing-time timers are looked at when no input comes (ms).
const TICK_MS: u64 = 10;

/// How many tuples pass between two sweeps of expired state (one key group each).
const SWEEP_EVERY: u32 = 256;

/// One key group's timers of one kind, as (time, key).
type GroupTimers<K> = Vec<(u64, K)>;

/// The bolt that runs a process function `B` keyed by `key_of`.
pub struct ProcessOp<B: ProcessBolt, F> {
    bolt: B,
    key_of: F,
    keyed: bool,
    backend: Option<KeyedBackend<B::Key>>,
    since_sweep: u32,
    timers: Timers<B::Key>,
    processing_timers: Timers<B::Key>,
    watermark: Option<u64>,
    default_ttl_ms: Option<u64>,
    /// The timers of a snapshot in progress, encoded per owned group at its barrier.
    pending_timers: Option<Vec<Vec<u8>>>,
}

impl<B: ProcessBolt, F: Fn(&B::In) -> B::Key> ProcessOp<B, F> {
    /// `bolt` keyed by `key_of` (the fields its input edges key by): the task's state is
    /// the key groups it owns.
    pub fn keyed(bolt: B, key_of: F) -> Self {
        ProcessOp {
            bolt,
            key_of,
            keyed: true,
            backend: None,
            since_sweep: 0,
            timers: Timers::default(),
            processing_timers: Timers::default(),
            watermark: None,
            default_ttl_ms: None,
            pending_timers: None,
        }
    }
}

/// The key of an input that is not keyed.
pub type NoKey<In> = fn(&In);

fn no_key<In>(_: &In) {}

impl<B: ProcessBolt<Key = ()>> ProcessOp<B, NoKey<B::In>> {
    /// `bolt` on an input that is not keyed: one state per task.
    pub fn unkeyed(bolt: B) -> Self {
        ProcessOp {
            bolt,
            key_of: no_key::<B::In>,
            keyed: false,
            backend: None,
            since_sweep: 0,
            timers: Timers::default(),
            processing_timers: Timers::default(),
            watermark: None,
            default_ttl_ms: None,
            pending_timers: None,
        }
    }
}

impl<B: ProcessBolt, F> ProcessOp<B, F> {
    /// Every state it declares without a time to live of its own lives `ttl_ms` after its
    /// last write (`ttl` in a `.topo` file).
    pub fn with_ttl(mut self, ttl_ms: u64) -> Self {
        self.default_ttl_ms = Some(ttl_ms);
        self
    }
}

impl<B, F> ProcessOp<B, F>
where
    B: ProcessBolt,
{
    /// Runs `on_timer` (`processing`: `on_processing_timer`) for every timer at or before
    /// `wm`, in time order (one it registers that is due fires too).
    fn fire(&mut self, processing: bool, wm: u64, out: &mut impl Emitter<B::Out>) {
        let Some(backend) = self.backend.as_mut() else {
            return;
        };
        loop {
            let due = if processing {
                self.processing_timers.pop_due(wm)
            } else {
                self.timers.pop_due(wm)
            };
            let Some((ts, key)) = due else { break };
            let Ok(group) = backend.group_of(&key) else {
                continue;
            };
            let now_ms = if backend.has_ttl() { wall_ms() } else { 0 };
            let mut ctx = KeyedContext {
                backend: &mut *backend,
                key: &key,
                group,
                now_ms,
                timers: &mut self.timers,
                processing_timers: &mut self.processing_timers,
                watermark: self.watermark,
            };
            let done = if processing {
                self.bolt.on_processing_timer(ts, &mut ctx, out)
            } else {
                self.bolt.on_timer(ts, &mut ctx, out)
            };
            if let Err(e) = done {
                tracing::warn!(timestamp = ts, error = %e, "a timer at {ts} failed");
            }
        }
    }

    fn fire_timers(&mut self, wm: u64, out: &mut impl Emitter<B::Out>) {
        self.fire(false, wm, out);
    }

    /// The state of every key group it owns: per group, its states' entries, then its
    /// event-time and processing-time timers. Not keyed: the one group, as task state.
    fn snapshot(&self) -> Option<TaskState> {
        let backend = self.backend.as_ref()?;
        let range = backend.key_groups();
        let timers = self.timer_bytes(backend);
        let encode = |g: u32| {
            let mut out = backend.snapshot_group(g)?;
            out.extend_from_slice(&timers[(g - range.start) as usize]);
            Some(out)
        };
        if !self.keyed {
            return encode(0).map(TaskState::Task);
        }
        Some(crate::state::key_groups(range.clone(), encode))
    }

    /// Per owned group (by index): its event-time timers, then its processing-time ones,
    /// encoded (what follows the states' entries in the group's snapshot).
    fn timer_bytes(&self, backend: &KeyedBackend<B::Key>) -> Vec<Vec<u8>> {
        let range = backend.key_groups();
        let mut timers: Vec<[GroupTimers<B::Key>; 2]> =
            range.clone().map(|_| Default::default()).collect();
        for (processing, set) in [(false, &self.timers), (true, &self.processing_timers)] {
            for (ts, key) in set.iter() {
                let Some(i) = backend
                    .group_of(key)
                    .ok()
                    .map(|g| (g - range.start) as usize)
                else {
                    continue;
                };
                timers[i][usize::from(processing)].push((ts, key.clone()));
            }
        }
        timers
            .iter()
            .map(|t| {
                let mut out = Vec::new();
                t[0].encode(&mut out);
                t[1].encode(&mut out);
                out
            })
            .collect()
    }

    fn restore_group(&mut self, group: u32, bytes: &[u8]) -> Result<(), StateError> {
        let Some(backend) = self.backend.as_mut() else {
            return Ok(());
        };
        // The states' entries come first; the timers follow them.
        let rest = backend.restore_group_prefix(group, bytes)?;
        let corrupt = |source: DecodeError| StateError::Corrupt { group, source };
        let mut input = rest;
        let timers = Vec::<(u64, B::Key)>::decode(&mut input).map_err(corrupt)?;
        let processing = Vec::<(u64, B::Key)>::decode(&mut input).map_err(corrupt)?;
        for (ts, key) in timers {
            self.timers.register(&key, ts);
        }
        for (ts, key) in processing {
            self.processing_timers.register(&key, ts);
        }
        Ok(())
    }
}

// Not offered in "other types implement `Bolt`" hints: it is the built-ins' adapter.
#[diagnostic::do_not_recommend]
impl<B, F> Bolt for ProcessOp<B, F>
where
    B: ProcessBolt,
    F: Fn(&B::In) -> B::Key + Send + 'static,
{
    type In = B::In;
    type Out = B::Out;

    fn prepare(&mut self, ctx: &TaskContext) {
        let mut backend = if self.keyed {
            let m = ctx.desc.settings.max_parallelism;
            KeyedBackend::new(m, key_group_range(ctx.task_index(), ctx.task_count(), m))
        } else {
            KeyedBackend::new(1, 0..1)
        };
        backend.set_default_ttl(self.default_ttl_ms);
        let mut open = OpenContext {
            task: ctx,
            backend: &mut backend,
        };
        if let Err(e) = self.bolt.open(&mut open) {
            panic!(
                "`{}` task {} could not open its state: {e}",
                ctx.component(),
                ctx.task_id()
            );
        }
        self.backend = Some(backend);
    }

    #[inline]
    fn execute(&mut self, input: B::In, out: &mut impl Emitter<B::Out>) -> ExecResult {
        let Some(backend) = self.backend.as_mut() else {
            return Err(Fail::new("a process function ran before it was prepared"));
        };
        let key = (self.key_of)(&input);
        let group = backend
            .group_of(&key)
            .map_err(|e| Fail::new(e.to_string()))?;
        let now_ms = if backend.has_ttl() {
            let now = wall_ms();
            self.since_sweep += 1;
            if self.since_sweep >= SWEEP_EVERY {
                self.since_sweep = 0;
                backend.sweep(now);
            }
            now
        } else {
            0
        };
        let mut ctx = KeyedContext {
            backend,
            key: &key,
            group,
            now_ms,
            timers: &mut self.timers,
            processing_timers: &mut self.processing_timers,
            watermark: self.watermark,
        };
        self.bolt.process(input, &mut ctx, out)?;
        // A timer already due (registered at or before the watermark) fires at once.
        if let Some(wm) = self.watermark {
            self.fire_timers(wm, out);
        }
        Ok(())
    }

    fn on_watermark(&mut self, watermark: i64, out: &mut impl Emitter<B::Out>) {
        if watermark < 0 {
            return;
        }
        let wm = watermark as u64;
        self.watermark = Some(wm);
        self.fire_timers(wm, out);
    }

    fn tick_interval(&self) -> Option<std::time::Duration> {
        Some(std::time::Duration::from_millis(TICK_MS))
    }

    fn on_tick(&mut self, now_ms: u64, out: &mut impl Emitter<B::Out>) {
        if !self.processing_timers.is_empty() {
            self.fire(true, now_ms, out);
        }
        // The background sweep of expired state, a key group per tick.
        if let Some(backend) = self.backend.as_mut()
            && backend.has_ttl()
        {
            backend.sweep(now_ms);
        }
    }

    fn snapshot_state(&mut self, _checkpoint: u64) -> Result<Option<TaskState>, Fail> {
        Ok(self.snapshot())
    }

    /// Keyed state is taken a key group at a time while the task goes on: its timers now,
    /// each group before the first access to it after the barrier or between batches.
    fn begin_snapshot(&mut self, checkpoint: u64) -> Result<SnapshotStep, Fail> {
        if checkpoint == crate::api::FINAL_SNAPSHOT || !self.keyed {
            return Ok(SnapshotStep::Ready(self.snapshot()));
        }
        let Some(backend) = self.backend.as_ref() else {
            return Ok(SnapshotStep::Ready(None));
        };
        self.pending_timers = Some(self.timer_bytes(backend));
        if let Some(backend) = self.backend.as_mut() {
            backend.begin_snapshot();
        }
        Ok(SnapshotStep::Pending)
    }

    fn continue_snapshot(&mut self, budget: std::time::Duration) -> Result<SnapshotStep, Fail> {
        let Some(backend) = self.backend.as_mut() else {
            return Ok(SnapshotStep::Ready(None));
        };
        if !backend.snapshot_step(budget) {
            return Ok(SnapshotStep::Pending);
        }
        let Some(groups) = backend.take_snapshot() else {
            return Err(Fail::new("no snapshot in progress to continue"));
        };
        let timers = self.pending_timers.take().unwrap_or_default();
        let groups = groups
            .into_iter()
            .zip(timers)
            .map(|((g, mut bytes), t)| {
                bytes.extend_from_slice(&t);
                (g, bytes)
            })
            .collect();
        Ok(SnapshotStep::Ready(Some(TaskState::KeyGroups(groups))))
    }

    fn initialize_state(&mut self, restored: Option<TaskState>) -> ExecResult {
        match restored {
            Some(TaskState::Task(bytes)) if !self.keyed => self
                .restore_group(0, &bytes)
                .map_err(|e| Fail::new(e.to_string())),
            other => crate::state::restore_key_groups(other, |g, b| self.restore_group(g, b)),
        }
    }

    fn finish(&mut self, out: &mut impl Emitter<B::Out>) {
        // The input is over: event time reaches its end, every timer fires.
        self.watermark = Some(u64::MAX);
        self.fire_timers(u64::MAX, out);
        self.bolt.finish(out);
    }
}
