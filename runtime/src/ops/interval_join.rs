//! `interval_join(lower, upper, f)`: an interval join as a bolt. Its compiler half:
//! `gale_compiler::ops::interval_join`. The join itself is [`crate::join::IntervalJoin`]
//! (pure); this adapter splits the input set into its sides, advances the join's time with
//! the watermark (less the allowed lateness) and emits each pair through `f`.

use super::wall_ms;
use crate::api::{Bolt, Emitter, ExecResult, Fail, TaskContext, TaskState};
use crate::grouping::key_group_range;
use crate::join::{IntervalJoin, Side};
use crate::state::Key;
use crate::window::WindowOutput;

/// An interval join as a bolt: `In` is the input stream set, split into `A` and `B`.
pub struct IntervalJoinOp<K, In, A, B, F> {
    lower: i64,
    upper: i64,
    lateness: u64,
    key_of: fn(&In) -> K,
    time_of: fn(&In) -> u64,
    split: fn(In) -> Side<A, B>,
    join: F,
    ttl_ms: Option<u64>,
    op: Option<IntervalJoin<K, A, B>>,
    /// The key groups this task owns (known once prepared).
    groups: std::ops::Range<u32>,
}

impl<K, In, A, B, F> IntervalJoinOp<K, In, A, B, F> {
    /// Pairs of `b.ts - a.ts` in `[lower, upper]` ms, each made by `join`; elements
    /// later than `lateness` behind the watermark go to the late output.
    pub fn new(
        lower: i64,
        upper: i64,
        lateness: u64,
        key_of: fn(&In) -> K,
        time_of: fn(&In) -> u64,
        split: fn(In) -> Side<A, B>,
        join: F,
    ) -> Self {
        IntervalJoinOp {
            lower,
            upper,
            lateness,
            key_of,
            time_of,
            split,
            join,
            ttl_ms: None,
            op: None,
            groups: 0..0,
        }
    }

    /// A key's buffered elements are dropped once none of it has come for `ttl_ms` of
    /// processing time (`ttl` in a `.topo` file; see [`IntervalJoin::with_ttl`]).
    pub fn with_ttl(mut self, ttl_ms: u64) -> Self {
        self.ttl_ms = Some(ttl_ms);
        self
    }
}

// Not offered in "other types implement `Bolt`" hints: it is the built-ins' adapter.
#[diagnostic::do_not_recommend]
impl<K, In, A, B, F, Out> Bolt for IntervalJoinOp<K, In, A, B, F>
where
    K: Key,
    In: Send + 'static,
    A: crate::Codec + Send + 'static,
    B: crate::Codec + Send + 'static,
    F: Fn(&A, &B) -> Out + Send + 'static,
    Out: 'static,
{
    type In = In;
    type Out = WindowOutput<Out, In>;

    fn prepare(&mut self, ctx: &TaskContext) {
        let m = ctx.desc.settings.max_parallelism;
        let range = key_group_range(ctx.task_index(), ctx.task_count(), m);
        self.groups = range.clone();
        let mut op = IntervalJoin::new(self.lower, self.upper, m, range).with_ttl(self.ttl_ms);
        op.expire(wall_ms());
        self.op = Some(op);
    }

    fn execute(&mut self, input: In, out: &mut impl Emitter<Self::Out>) -> ExecResult {
        let Some(op) = self.op.as_mut() else {
            return Err(Fail::new("an interval join ran before it was prepared"));
        };
        let ts = (self.time_of)(&input);
        if op.is_late(ts) {
            out.emit(WindowOutput::Late(input));
            return Ok(());
        }
        let key = (self.key_of)(&input);
        let join = &self.join;
        op.on_element(key, ts, (self.split)(input), |a, b| {
            out.emit(WindowOutput::Result(join(a, b)));
        })
        .map_err(|e| Fail::new(e.to_string()))?;
        Ok(())
    }

    fn finish(&mut self, _out: &mut impl Emitter<Self::Out>) {
        // Every pair was emitted when its second element came: only state is left.
        if let Some(op) = self.op.as_mut() {
            op.advance(u64::MAX);
        }
    }

    fn tick_interval(&self) -> Option<std::time::Duration> {
        // A `ttl` needs the clock, input or not.
        crate::state::Retention::new(self.ttl_ms).tick()
    }

    fn on_tick(&mut self, now_ms: u64, _out: &mut impl Emitter<Self::Out>) {
        if let Some(op) = self.op.as_mut() {
            op.expire(now_ms);
        }
    }

    fn on_watermark(&mut self, watermark: i64, _out: &mut impl Emitter<Self::Out>) {
        if let (Some(op), Ok(w)) = (self.op.as_mut(), u64::try_from(watermark))
            && let Some(t) = w.checked_sub(self.lateness)
        {
            op.advance(t);
        }
    }

    fn snapshot_state(&mut self, _checkpoint: u64) -> Result<Option<TaskState>, Fail> {
        crate::state::snapshot_groups(self.op.as_ref(), self.groups.clone())
    }

    /// The buffers are taken a key group at a time while the task goes on.
    fn begin_snapshot(&mut self, checkpoint: u64) -> Result<crate::api::SnapshotStep, Fail> {
        crate::state::begin_groups(self.op.as_mut(), checkpoint, self.groups.clone())
    }

    fn continue_snapshot(
        &mut self,
        budget: std::time::Duration,
    ) -> Result<crate::api::SnapshotStep, Fail> {
        crate::state::continue_groups(self.op.as_mut(), budget)
    }

    fn initialize_state(&mut self, restored: Option<TaskState>) -> ExecResult {
        crate::state::restore_groups(self.op.as_mut(), restored)
    }
}
