//! `tumbling(...)`, `sliding(...)`, `session(...)`, `count_window(...)`: a window operator
//! as a bolt. Its compiler half: `gale_compiler::ops` (`window.rs` and one file per kind).
//! The windows themselves are [`crate::window::WindowOperator`] (pure); this adapter gives
//! it elements, advances its time and emits what fires.

use super::wall_ms;
use crate::api::{Bolt, Emitter, ExecResult, Fail, TaskContext, TaskState};
use crate::grouping::key_group_range;
use crate::state::{AggregateFunction, Key};
use crate::window::{Assigner, Fired, Window, WindowFunction, WindowOperator, WindowOutput};

/// How fired windows become output.
pub trait Finish<K, R, In, Out>: Send + 'static {
    /// Emits the result `result` of `window` of `key`.
    fn finish(
        &mut self,
        key: &K,
        window: Window,
        result: R,
        out: &mut impl Emitter<WindowOutput<Out, In>>,
    );
}

/// Builds the output tuple from the key, the window and the aggregate.
pub struct MakeOut<F>(pub F);

impl<K, R, In, Out, F> Finish<K, R, In, Out> for MakeOut<F>
where
    F: Fn(&K, Window, R) -> Out + Send + 'static,
{
    #[inline]
    fn finish(&mut self, key: &K, w: Window, r: R, out: &mut impl Emitter<WindowOutput<Out, In>>) {
        out.emit(WindowOutput::Result((self.0)(key, w, r)));
    }
}

/// Hands every element to a [`WindowFunction`].
pub struct ApplyFn<T>(pub T);

struct Results<'a, E, In>(&'a mut E, std::marker::PhantomData<fn(In)>);

impl<Out, In, E: Emitter<WindowOutput<Out, In>>> Emitter<Out> for Results<'_, E, In> {
    fn emit(&mut self, t: Out) {
        self.0.emit(WindowOutput::Result(t));
    }
    fn emit_direct(&mut self, task: crate::api::TaskId, t: Out) {
        self.0.emit_direct(task, WindowOutput::Result(t));
    }
}

impl<K, In, Out, T> Finish<K, Vec<In>, In, Out> for ApplyFn<T>
where
    T: WindowFunction<Key = K, In = In, Out = Out>,
{
    fn finish(
        &mut self,
        key: &K,
        w: Window,
        elements: Vec<In>,
        out: &mut impl Emitter<WindowOutput<Out, In>>,
    ) {
        self.0.apply(
            key,
            w,
            &elements,
            &mut Results(out, std::marker::PhantomData),
        );
    }
}

/// A window operator as a bolt.
pub struct WindowOp<K, A: AggregateFunction, F, Out> {
    assigner: Assigner,
    lateness: u64,
    processing_time: bool,
    agg: Option<A>,
    key_of: fn(&A::In) -> K,
    time_of: fn(&A::In) -> u64,
    finish: F,
    ttl_ms: Option<u64>,
    op: Option<WindowOperator<K, A>>,
    /// The key groups this task owns (known once prepared).
    groups: std::ops::Range<u32>,
    fired: Vec<Fired<K, A::Out>>,
    _out: std::marker::PhantomData<fn() -> Out>,
}

impl<K, A, M, Out> WindowOp<K, A, MakeOut<M>, Out>
where
    A: AggregateFunction,
    M: Fn(&K, Window, A::Out) -> Out + Send + 'static,
{
    /// A window assigning by `assigner`, aggregating with `agg`; `make` builds each result.
    pub fn new(
        assigner: Assigner,
        lateness: u64,
        processing_time: bool,
        agg: A,
        key_of: fn(&A::In) -> K,
        time_of: fn(&A::In) -> u64,
        make: M,
    ) -> Self {
        WindowOp::with(
            assigner,
            lateness,
            processing_time,
            agg,
            key_of,
            time_of,
            MakeOut(make),
        )
    }
}

impl<K, A: AggregateFunction, F, Out> WindowOp<K, A, F, Out> {
    /// A window whose fired results go to `finish`.
    pub fn with(
        assigner: Assigner,
        lateness: u64,
        processing_time: bool,
        agg: A,
        key_of: fn(&A::In) -> K,
        time_of: fn(&A::In) -> u64,
        finish: F,
    ) -> Self {
        WindowOp {
            assigner,
            lateness: if processing_time { 0 } else { lateness },
            processing_time,
            agg: Some(agg),
            key_of,
            time_of,
            finish,
            ttl_ms: None,
            op: None,
            groups: 0..0,
            fired: Vec::new(),
            _out: std::marker::PhantomData,
        }
    }

    /// A key's windows are dropped once no element of it has come for `ttl_ms` of
    /// processing time (`ttl` in a `.topo` file; see [`WindowOperator::with_ttl`]).
    pub fn with_ttl(mut self, ttl_ms: u64) -> Self {
        self.ttl_ms = Some(ttl_ms);
        self
    }
}

/// How often a processing-time window looks at the clock when no input comes (ms).
const TICK_MS: u64 = 10;

impl<K, A, F, Out> WindowOp<K, A, F, Out>
where
    K: Key,
    A: AggregateFunction,
    A::In: Clone,
    F: Finish<K, A::Out, A::In, Out>,
{
    fn emit_fired(&mut self, out: &mut impl Emitter<WindowOutput<Out, A::In>>) {
        for f in self.fired.drain(..) {
            self.finish.finish(&f.key, f.window, f.result, out);
        }
    }

    /// Event time (the task's watermark, epoch ms) advances: the windows it closes fire.
    pub fn advance_to(&mut self, t: u64, out: &mut impl Emitter<WindowOutput<Out, A::In>>) {
        if let Some(op) = self.op.as_mut() {
            op.advance(t, &mut self.fired);
        }
        self.emit_fired(out);
    }
}

// Not offered in "other types implement `Bolt`" hints: it is the built-ins' adapter.
#[diagnostic::do_not_recommend]
impl<K, A, F, Out> Bolt for WindowOp<K, A, F, Out>
where
    K: Key,
    A: AggregateFunction,
    A::In: Clone + Send + 'static,
    A::Out: Send,
    F: Finish<K, A::Out, A::In, Out>,
    Out: 'static,
{
    type In = A::In;
    type Out = WindowOutput<Out, A::In>;

    fn prepare(&mut self, ctx: &TaskContext) {
        let m = ctx.desc.settings.max_parallelism;
        let range = key_group_range(ctx.task_index(), ctx.task_count(), m);
        self.groups = range.clone();
        if let Some(agg) = self.agg.take() {
            let mut op = WindowOperator::new(self.assigner, self.lateness, agg, m, range)
                .with_ttl(self.ttl_ms);
            op.expire(wall_ms());
            self.op = Some(op);
        }
    }

    fn execute(&mut self, input: A::In, out: &mut impl Emitter<Self::Out>) -> ExecResult {
        let Some(op) = self.op.as_mut() else {
            return Err(Fail::new("a window ran before it was prepared"));
        };
        let key = (self.key_of)(&input);
        let ts = if self.processing_time {
            let now = wall_ms();
            op.advance(now.saturating_sub(1), &mut self.fired);
            now
        } else {
            (self.time_of)(&input)
        };
        let late = op
            .on_element(key, ts, input, &mut self.fired)
            .map_err(|e| Fail::new(e.to_string()))?;
        self.emit_fired(out);
        if let Some(late) = late {
            out.emit(WindowOutput::Late(late));
        }
        Ok(())
    }

    fn finish(&mut self, out: &mut impl Emitter<Self::Out>) {
        // The input is over: every window closes (event time reaches its end).
        self.advance_to(u64::MAX, out);
    }

    fn tick_interval(&self) -> Option<std::time::Duration> {
        // Processing-time windows close on the clock, input or not; a `ttl` needs the
        // clock too.
        let windows = self
            .processing_time
            .then_some(std::time::Duration::from_millis(TICK_MS));
        let ttl = crate::state::Retention::new(self.ttl_ms).tick();
        windows.into_iter().chain(ttl).min()
    }

    fn on_tick(&mut self, now_ms: u64, out: &mut impl Emitter<Self::Out>) {
        if self.processing_time {
            self.advance_to(now_ms.saturating_sub(1), out);
        }
        if self.ttl_ms.is_some()
            && let Some(op) = self.op.as_mut()
        {
            op.expire(now_ms);
        }
    }

    fn on_watermark(&mut self, watermark: i64, out: &mut impl Emitter<Self::Out>) {
        if !self.processing_time && watermark >= 0 {
            self.advance_to(watermark as u64, out);
        }
    }

    fn snapshot_state(&mut self, _checkpoint: u64) -> Result<Option<TaskState>, Fail> {
        crate::state::snapshot_groups(self.op.as_ref(), self.groups.clone())
    }

    /// The windows are taken a key group at a time while the task goes on.
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
