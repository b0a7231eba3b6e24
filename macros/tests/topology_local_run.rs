//! A topology written with `topology!` and a derived tuple runs in local mode, and its sink
//! sees exactly what the spouts emitted, grouped by key.

use gale::{Bolt, Emitter, ExecResult, RunOptions, Spout, SpoutStatus, TaskContext};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// Readings per spout task.
const PER_TASK: u32 = 1_000;
/// Spout tasks (the `parallelism` of `readings` below).
const SPOUT_TASKS: u64 = 2;

/// A temperature reading: a Rust tuple schema, imported into the topology with `use`.
#[derive(Debug, Clone, PartialEq, gale::Tuple)]
pub struct Reading {
    /// Which sensor (the grouping key).
    pub sensor: u32,
    /// Degrees Celsius.
    pub celsius: f64,
}

/// Emits `PER_TASK` readings, sensor `i % 10` at `i` degrees, then is done.
#[derive(Default)]
pub struct Sensors {
    next: u32,
}

impl Spout for Sensors {
    type Out = Reading;

    fn next_tuple(&mut self, out: &mut impl Emitter<Reading>) -> SpoutStatus {
        if self.next == PER_TASK {
            return SpoutStatus::Done;
        }
        out.emit(Reading {
            sensor: self.next % 10,
            celsius: f64::from(self.next),
        });
        self.next += 1;
        SpoutStatus::Active
    }
}

/// Celsius to Fahrenheit, into a tuple declared inside the macro.
#[derive(Default)]
pub struct Convert;

impl Bolt for Convert {
    type In = Reading;
    type Out = sensors::Fahrenheit;

    fn execute(&mut self, r: Reading, out: &mut impl Emitter<sensors::Fahrenheit>) -> ExecResult {
        out.emit(sensors::Fahrenheit {
            sensor: r.sensor,
            degrees: r.celsius * 9.0 / 5.0 + 32.0,
        });
        Ok(())
    }
}

static COUNT: AtomicU64 = AtomicU64::new(0);
/// Sum of `degrees - 32`, scaled by 5 (an integer: `celsius * 9`).
static SUM: AtomicU64 = AtomicU64::new(0);
/// `(sensor, task index)` pairs the sink saw.
static PLACES: Mutex<Vec<(u32, usize)>> = Mutex::new(Vec::new());

/// Counts and sums what it receives, and where each sensor went.
#[derive(Default)]
pub struct Tally {
    task: usize,
    seen: Vec<u32>,
}

impl Bolt for Tally {
    type In = sensors::Fahrenheit;
    type Out = ();

    fn prepare(&mut self, ctx: &TaskContext) {
        self.task = ctx.task_index();
    }

    fn execute(&mut self, f: sensors::Fahrenheit, _: &mut impl Emitter<()>) -> ExecResult {
        COUNT.fetch_add(1, Ordering::Relaxed);
        SUM.fetch_add(((f.degrees - 32.0) * 5.0).round() as u64, Ordering::Relaxed);
        if !self.seen.contains(&f.sensor) {
            self.seen.push(f.sensor);
            let mut places = PLACES.lock().unwrap_or_else(|e| e.into_inner());
            places.push((f.sensor, self.task));
        }
        Ok(())
    }
}

gale::topology! {
    use crate::Reading;

    tuple Fahrenheit { sensor: u32, degrees: f64 }

    topology sensors {
        config { guarantee = at_most_once }

        spout readings = Sensors() -> Reading        parallelism 2
        bolt  convert  = Convert(Reading) -> Fahrenheit parallelism 2
        bolt  tally    = Tally(Fahrenheit)           parallelism 3

        readings -> convert : shuffle
        convert  -> tally   : fields(sensor)
    }
}

#[test]
fn runs_and_the_sink_sees_every_reading() {
    let summary = gale::run_local(sensors::topology(), RunOptions::default())
        .unwrap_or_else(|e| panic!("local run failed: {e}"));
    assert_eq!(summary.topology, "sensors");

    let total = SPOUT_TASKS * u64::from(PER_TASK);
    assert_eq!(COUNT.load(Ordering::Relaxed), total);
    // Each task emits celsius 0..PER_TASK; the sink sums celsius * 9.
    let per_task: u64 = (0..u64::from(PER_TASK)).sum();
    assert_eq!(SUM.load(Ordering::Relaxed), SPOUT_TASKS * per_task * 9);

    // `fields(sensor)`: every sensor reached exactly one tally task.
    let mut places = PLACES.lock().unwrap_or_else(|e| e.into_inner()).clone();
    places.sort_unstable();
    let sensors: Vec<u32> = places.iter().map(|&(s, _)| s).collect();
    assert_eq!(sensors, (0..10).collect::<Vec<_>>(), "{places:?}");
}
