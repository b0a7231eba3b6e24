//! Components of `windows_properties.topo`: a spout that emits given events phase by phase,
//! and recorders of window results and late events.
//!
//! A **phase** is a run of events the spout emits back to back, after which it says it is
//! idle: its executor then flushes, and the watermark of everything emitted so far goes out
//! behind the phase's events. Every event of a phase but the last is at or before the
//! largest timestamp of the earlier phases, so the spout's watermark cannot move in the
//! middle of a phase: every event of phase `k` reaches a window under exactly the watermark
//! of phases `0..k`, whatever the batching, the scheduling or the transport (watermarks
//! travel in-band, behind the tuples they follow). That is what makes the reference exact.
//!
//! In-process runs hand the events over in [`PHASES`] ([`prepare_local_run`]) and read what
//! the recorders saw from [`RESULTS`] and [`LATE`] ([`take_recorded`]). Worker processes cannot: with `--set events=FILE` the spout
//! reads the phases from a file ([`write_phases`]' format), and with `--set out_dir=DIR` each
//! recorder task appends what it receives to `DIR/<component>-<task>.txt`
//! ([`read_results`], [`read_late`]).

use crate::windows_properties::{Event, WindowValue};
use gale::{Bolt, Emitter, ExecResult, Spout, SpoutStatus, TaskContext};
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;
use std::sync::Mutex;

/// The phases the spout of an in-process run emits (when no `events` file is configured).
pub static PHASES: Mutex<Vec<Vec<Event>>> = Mutex::new(Vec::new());
/// What the result recorders of an in-process run saw: (recorder, result), in arrival order.
pub static RESULTS: Mutex<Vec<(String, WindowValue)>> = Mutex::new(Vec::new());
/// What the late recorders of an in-process run saw: (recorder, event), in arrival order.
pub static LATE: Mutex<Vec<(String, Event)>> = Mutex::new(Vec::new());

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Hands `phases` to the spout of the next in-process run, and forgets what the recorders
/// of earlier runs saw.
pub fn prepare_local_run(phases: &[Vec<Event>]) {
    *lock(&PHASES) = phases.to_vec();
    lock(&RESULTS).clear();
    lock(&LATE).clear();
}

/// What the recorders of an in-process run saw: the results, and the late events.
#[allow(clippy::type_complexity)]
pub fn take_recorded() -> (Vec<(String, WindowValue)>, Vec<(String, Event)>) {
    (
        std::mem::take(&mut *lock(&RESULTS)),
        std::mem::take(&mut *lock(&LATE)),
    )
}

/// The text form of phases: one line per phase, its events separated by spaces, each
/// `key,at,id,amount`.
pub fn write_phases(phases: &[Vec<Event>]) -> String {
    let mut s = String::new();
    for phase in phases {
        let events: Vec<String> = phase
            .iter()
            .map(|e| format!("{},{},{},{}", e.key, e.at, e.id, e.amount))
            .collect();
        let _ = writeln!(s, "{}", events.join(" "));
    }
    s
}

/// Phases from [`write_phases`]' text; `None` if it is malformed.
pub fn read_phases(text: &str) -> Option<Vec<Vec<Event>>> {
    text.lines()
        .map(|line| {
            line.split_whitespace()
                .map(|e| {
                    let mut f = e.split(',');
                    let key = f.next()?.to_string();
                    let mut num = || f.next()?.parse::<u64>().ok();
                    Some(Event {
                        key,
                        at: num()?,
                        id: num()?,
                        amount: num()?,
                    })
                })
                .collect()
        })
        .collect()
}

/// Emits its phases; says it is idle after the last event of each (see the module docs).
/// The topology gives it one task: the order of the events is the order of the phases.
#[derive(Default)]
pub struct Events {
    /// The phases left, the next one last; in each, the events left, the next one last.
    todo: Vec<Vec<Event>>,
}

impl Spout for Events {
    type Out = Event;

    fn open(&mut self, ctx: &TaskContext) {
        assert_eq!(ctx.task_count(), 1, "one task emits every event, in order");
        let phases = match ctx.config_str("events") {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .unwrap_or_else(|e| panic!("cannot read the events in {path}: {e}"));
                read_phases(&text).unwrap_or_else(|| panic!("malformed events in {path}"))
            }
            None => lock(&PHASES).clone(),
        };
        self.todo = phases
            .into_iter()
            .rev()
            .map(|mut p| {
                p.reverse();
                p
            })
            .collect();
    }

    fn next_tuple(&mut self, out: &mut impl Emitter<Event>) -> SpoutStatus {
        while let Some(phase) = self.todo.last_mut() {
            let Some(e) = phase.pop() else {
                self.todo.pop();
                continue;
            };
            out.emit(e);
            if phase.is_empty() {
                // The end of a phase: the executor flushes, and the watermark goes out.
                self.todo.pop();
                return SpoutStatus::Idle;
            }
            return SpoutStatus::Active;
        }
        SpoutStatus::Done
    }
}

/// Where a recorder task puts what it receives.
#[derive(Default)]
struct Record {
    component: String,
    /// `out_dir` configured: this task's file in it.
    file: Option<std::fs::File>,
}

impl Record {
    fn prepare(&mut self, ctx: &TaskContext) {
        self.component = ctx.component().to_string();
        self.file = crate::task_file(ctx);
    }

    /// Appends `line` to the file, or else hands `t` to `store`.
    fn keep<T>(&mut self, line: impl FnOnce() -> String, t: T, store: &Mutex<Vec<(String, T)>>) {
        match self.file.as_mut() {
            Some(f) => {
                let line = line();
                f.write_all(line.as_bytes())
                    .unwrap_or_else(|e| panic!("cannot record `{}`: {e}", line.trim_end()));
            }
            None => lock(store).push((self.component.clone(), t)),
        }
    }
}

/// Records the results of a window.
#[derive(Default)]
pub struct RecordResults(Record);

impl Bolt for RecordResults {
    type In = WindowValue;
    type Out = ();

    fn prepare(&mut self, ctx: &TaskContext) {
        self.0.prepare(ctx);
    }

    fn execute(&mut self, r: WindowValue, _: &mut impl Emitter<()>) -> ExecResult {
        let line = || format!("{} {} {} {}\n", r.key, r.start, r.end, r.value);
        self.0.keep(line, r.clone(), &RESULTS);
        Ok(())
    }
}

/// Records the late events of a window.
#[derive(Default)]
pub struct RecordLate(Record);

impl Bolt for RecordLate {
    type In = Event;
    type Out = ();

    fn prepare(&mut self, ctx: &TaskContext) {
        self.0.prepare(ctx);
    }

    fn execute(&mut self, e: Event, _: &mut impl Emitter<()>) -> ExecResult {
        let line = || format!("{},{},{},{}\n", e.key, e.at, e.id, e.amount);
        self.0.keep(line, e.clone(), &LATE);
        Ok(())
    }
}

/// The lines of every recorder file in `dir` whose component name starts with `prefix`:
/// (component, line), each file's lines in order.
fn recorded_lines(dir: &Path, prefix: &str) -> Vec<(String, String)> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(prefix) && n.ends_with(".txt"))
        })
        .collect();
    files.sort();
    let mut lines = Vec::new();
    for path in files {
        let name = path
            .file_stem()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        // `<component>-<task>`.
        let component = name.rsplit_once('-').map_or(name, |(c, _)| c).to_string();
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        lines.extend(text.lines().map(|l| (component.clone(), l.to_string())));
    }
    lines
}

/// What the result recorders wrote in `dir` (with `out_dir`), as [`RESULTS`] holds it.
pub fn read_results(dir: &Path) -> Vec<(String, WindowValue)> {
    recorded_lines(dir, "results_")
        .into_iter()
        .map(|(c, l)| {
            let f: Vec<&str> = l.split(' ').collect();
            let num = |i: usize| -> u64 {
                f.get(i)
                    .and_then(|v| v.parse().ok())
                    .unwrap_or_else(|| panic!("malformed result `{l}` of {c}"))
            };
            let r = WindowValue {
                key: f[0].to_string(),
                start: num(1),
                end: num(2),
                value: num(3),
            };
            (c, r)
        })
        .collect()
}

/// What the late recorders wrote in `dir` (with `out_dir`), as [`LATE`] holds it.
pub fn read_late(dir: &Path) -> Vec<(String, Event)> {
    recorded_lines(dir, "late_")
        .into_iter()
        .map(|(c, l)| {
            let e = read_phases(&l)
                .and_then(|p| p.into_iter().next())
                .and_then(|p| p.into_iter().next())
                .unwrap_or_else(|| panic!("malformed late event `{l}` of {c}"));
            (c, e)
        })
        .collect()
}
