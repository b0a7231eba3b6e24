//! Components of `cluster_acking.topo`, run as worker processes by the cluster tests.
//!
//! The spout is a durable source, like a Kafka partition with committed offsets: task `i`
//! of `n` owns ids `i, i + n, ...` below `GALE_TEST_IDS`; each acked id is appended to
//! `GALE_TEST_DIR/acked-<task>.txt`, and a (re)started task skips the ids already there.
//! Failed ids are emitted again. It emits at most `GALE_TEST_RATE` ids per second per
//! task, so a test can kill processes while it runs.
//!
//! With `--set finite=1` the spout is done once every id it owns is acked (a finite
//! input); with `--set record_sink=1` the sink appends every id it executes to
//! `GALE_TEST_DIR/seen-<task>.txt`, and with `--set sink_linger_ms=N` its `finish` first
//! writes `GALE_TEST_DIR/finishing-<pid>-<task>` and then takes N ms (a slow final
//! commit), so a test can kill a worker whose sink is finishing.

use crate::cluster_acking::Msg;
use gale::{Bolt, Emitter, ExecResult, Spout, SpoutStatus, TaskContext};
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::io::Write;
use std::time::Instant;

/// The spout: a replayable source of ids.
#[derive(Default)]
pub struct DurableIds {
    todo: VecDeque<u64>,
    log: Option<std::fs::File>,
    rate: f64,
    start: Option<Instant>,
    emitted: u64,
    pad: usize,
    /// `--set big_id=N --set big_pad=M`: ids N to N + 7 alone carry M bytes of padding
    /// (tuples above a small `max_frame`; several, so that some cross workers whatever the
    /// shuffle); their `fail` is logged with the time since their emit.
    big: Option<(u64, usize)>,
    big_emitted: HashMap<u64, Instant>,
    /// `finite=1`: done once every id is acked.
    finite: bool,
    /// Ids emitted and neither acked nor failed yet.
    in_flight: u64,
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

impl Spout for DurableIds {
    type Out = Msg;

    fn open(&mut self, ctx: &TaskContext) {
        // `submit --set crash_task=N`: spout task N panics here, a worker in a crash loop.
        if ctx.config_u64("crash_task") == Some(ctx.task_index() as u64) {
            panic!(
                "cluster_acking: task {} crashes in open (crash_task)",
                ctx.task_index()
            );
        }
        let dir = std::env::var("GALE_TEST_DIR").unwrap_or_else(|_| ".".into());
        let total = env_u64("GALE_TEST_IDS", 10_000);
        self.rate = env_u64("GALE_TEST_RATE", 5_000) as f64;
        self.pad = ctx.config_u64("pad").unwrap_or(0) as usize;
        self.big = ctx
            .config_u64("big_id")
            .map(|id| (id, ctx.config_u64("big_pad").unwrap_or(0) as usize));
        self.finite = ctx.config_u64("finite") == Some(1);
        let path = format!("{dir}/acked-{}.txt", ctx.task_index());
        let done: BTreeSet<u64> = std::fs::read_to_string(&path)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect();
        let (i, n) = (ctx.task_index() as u64, ctx.task_count() as u64);
        self.todo = (i..total)
            .step_by(n as usize)
            .filter(|id| !done.contains(id))
            .collect();
        self.log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .ok();
        eprintln!(
            "cluster_acking: task {i} resumes with {} ids to go ({} acked before)",
            self.todo.len(),
            done.len()
        );
    }

    fn next_tuple(&mut self, out: &mut impl Emitter<Msg>) -> SpoutStatus {
        let start = *self.start.get_or_insert_with(Instant::now);
        if self.emitted as f64 > start.elapsed().as_secs_f64() * self.rate {
            return SpoutStatus::Idle;
        }
        match self.todo.pop_front() {
            Some(id) => {
                let pad = match self.big {
                    Some((big, size)) if (big..big + 8).contains(&id) => {
                        self.big_emitted.insert(id, Instant::now());
                        vec![0x5a; size]
                    }
                    _ => vec![0xa5; self.pad],
                };
                out.emit_with_id(id, Msg { id, pad });
                self.emitted += 1;
                self.in_flight += 1;
                SpoutStatus::Active
            }
            None if self.finite && self.in_flight == 0 => SpoutStatus::Done,
            // Never done: a streaming source waits for more (and for failed ids).
            None => SpoutStatus::Idle,
        }
    }

    fn ack(&mut self, id: u64) {
        self.in_flight = self.in_flight.saturating_sub(1);
        if let Some(f) = self.log.as_mut() {
            let _ = writeln!(f, "{id}");
        }
    }

    fn fail(&mut self, id: u64) {
        if let Some(at) = self.big_emitted.remove(&id) {
            eprintln!(
                "cluster_acking: big id {id} failed {} ms after its emit",
                at.elapsed().as_millis()
            );
        }
        self.in_flight = self.in_flight.saturating_sub(1);
        self.todo.push_back(id);
    }
}

/// Passes each id on.
#[derive(Default)]
pub struct Relay {
    /// `submit --set hang_task=N`: relay task N blocks forever on its first tuple (a hung
    /// bolt, which only hang detection can find: its worker still heartbeats).
    hang: bool,
}

impl Bolt for Relay {
    type In = Msg;
    type Out = Msg;

    fn prepare(&mut self, ctx: &TaskContext) {
        self.hang = ctx.config_u64("hang_task") == Some(ctx.task_index() as u64);
    }

    fn execute(&mut self, m: Msg, out: &mut impl Emitter<Msg>) -> ExecResult {
        if self.hang {
            eprintln!(
                "cluster_acking: relay task hangs on id {} (hang_task)",
                m.id
            );
            loop {
                std::thread::park();
            }
        }
        out.emit(m);
        Ok(())
    }
}

/// Consumes ids (acked when `execute` returns).
#[derive(Default)]
pub struct Sink {
    /// `record_sink=1`: every id executed is appended here.
    seen: Option<std::fs::File>,
    /// `sink_linger_ms`: how long `finish` takes, and the marker it writes first.
    linger: Option<(std::time::Duration, String)>,
}

impl Bolt for Sink {
    type In = Msg;
    type Out = ();

    fn prepare(&mut self, ctx: &TaskContext) {
        let dir = std::env::var("GALE_TEST_DIR").unwrap_or_else(|_| ".".into());
        let task = ctx.task_index();
        if ctx.config_u64("record_sink") == Some(1) {
            self.seen = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(format!("{dir}/seen-{task}.txt"))
                .ok();
        }
        if let Some(ms) = ctx.config_u64("sink_linger_ms") {
            let marker = format!("{dir}/finishing-{}-{task}", std::process::id());
            self.linger = Some((std::time::Duration::from_millis(ms), marker));
        }
    }

    fn execute(&mut self, m: Msg, _out: &mut impl Emitter<()>) -> ExecResult {
        if let Some(f) = self.seen.as_mut() {
            let _ = writeln!(f, "{}", m.id);
        }
        Ok(())
    }

    fn finish(&mut self, _out: &mut impl Emitter<()>) {
        if let Some((linger, marker)) = &self.linger {
            let _ = std::fs::write(marker, b"");
            std::thread::sleep(*linger);
        }
    }
}
