//! Sensor alerts, with the topology written inline in Rust (`gale::topology!`) and the
//! reading schema a Rust struct (`#[derive(gale::Tuple)]`). No `build.rs` needed.
//!
//! Readings are keyed by sensor (`fields(sensor)`); each `monitor` task keeps a running
//! mean per sensor it owns and routes a reading to its `alerts` stream when it is more than
//! `threshold` degrees above that sensor's mean, else to `normal`. `alerts` goes to one
//! printer; `normal` to a counter.
//!
//! ```text
//! cargo run -p sensors -- run
//! cargo run -p sensors -- run --set readings=1000000 --set threshold=12
//! ```

use gale::{Bolt, Emitter, ExecResult, FastMap, Spout, SpoutStatus, TaskContext};

/// One temperature reading.
#[derive(Debug, Clone, PartialEq, gale::Tuple)]
pub struct Reading {
    /// The sensor's id (the grouping key).
    pub sensor: u32,
    /// Sequence number.
    pub seq: u64,
    /// Degrees Celsius.
    pub celsius: f64,
}

gale::topology! {
    use crate::{Reading, Readings, Monitor, PrintAlerts, CountNormal};

    tuple Alert { sensor: u32, seq: u64, celsius: f64, mean: f64 }

    streams Checked { normal: Reading, alerts: Alert }

    topology sensors {
        config { readings = 100000, sensors = 50, threshold = 15 }

        spout readings = Readings() -> Reading        parallelism 2
        bolt  monitor  = Monitor(Reading) -> Checked  parallelism 2 tasks 4
        bolt  alerts   = PrintAlerts(Alert)
        bolt  normal   = CountNormal(Reading)         parallelism 2

        readings -> monitor       : fields(sensor)
        monitor.alerts -> alerts  : global
        monitor.normal -> normal  : shuffle
    }
}

use sensors::{Alert, Checked};

/// The reading of sequence number `seq`: a deterministic wave with an occasional spike.
pub fn reading(seq: u64, sensors: u64) -> Reading {
    let sensor = (seq % sensors) as u32;
    let base = 20.0 + f64::from(sensor % 7);
    let wave = ((seq as f64) / 1000.0).sin() * 3.0;
    let spike = if seq.is_multiple_of(997) { 25.0 } else { 0.0 };
    Reading {
        sensor,
        seq,
        celsius: base + wave + spike,
    }
}

/// Emits `readings` readings in total, split among its tasks.
#[derive(Default)]
pub struct Readings {
    next: u64,
    step: u64,
    end: u64,
    sensors: u64,
}

impl Spout for Readings {
    type Out = Reading;

    fn open(&mut self, ctx: &TaskContext) {
        self.next = ctx.task_index() as u64;
        self.step = ctx.task_count() as u64;
        self.end = ctx.config_u64("readings").unwrap_or(100_000);
        self.sensors = ctx.config_u64("sensors").unwrap_or(50).max(1);
    }

    fn next_tuple(&mut self, out: &mut impl Emitter<Reading>) -> SpoutStatus {
        if self.next >= self.end {
            return SpoutStatus::Done;
        }
        out.emit(reading(self.next, self.sensors));
        self.next += self.step;
        SpoutStatus::Active
    }

    /// Its position, for `exactly_once` checkpoints: the next reading's sequence number.
    fn snapshot_state(&mut self, _checkpoint: u64) -> Result<Option<gale::TaskState>, gale::Fail> {
        Ok(Some(gale::codec::to_bytes(&self.next).into()))
    }

    /// Rewinds to a checkpoint's position: what it emits next is what came after it.
    fn initialize_state(&mut self, restored: Option<gale::TaskState>) -> Result<(), gale::Fail> {
        if let Some(s) = restored {
            self.next = gale::codec::from_bytes(&s.into_task()?)?;
        }
        Ok(())
    }
}

/// Keeps a running mean per sensor and routes each reading to `alerts` or `normal`.
#[derive(Default)]
pub struct Monitor {
    means: FastMap<u32, (u64, f64)>,
    threshold: f64,
}

impl Bolt for Monitor {
    type In = Reading;
    type Out = Checked;

    fn prepare(&mut self, ctx: &TaskContext) {
        self.threshold = ctx.config_u64("threshold").unwrap_or(15) as f64;
    }

    fn execute(&mut self, r: Reading, out: &mut impl Emitter<Checked>) -> ExecResult {
        let (n, mean) = self.means.entry(r.sensor).or_insert((0, 0.0));
        let alert = *n >= 10 && r.celsius - *mean > self.threshold;
        let seen_mean = *mean;
        *n += 1;
        *mean += (r.celsius - *mean) / *n as f64;
        if alert {
            out.emit(Checked::Alerts(Alert {
                sensor: r.sensor,
                seq: r.seq,
                celsius: r.celsius,
                mean: seen_mean,
            }));
        } else {
            out.emit(Checked::Normal(r));
        }
        Ok(())
    }
}

/// Prints every alert, ordered by sequence number, when the input ends.
#[derive(Default)]
pub struct PrintAlerts {
    alerts: Vec<Alert>,
}

impl Bolt for PrintAlerts {
    type In = Alert;
    type Out = ();

    fn execute(&mut self, a: Alert, _out: &mut impl Emitter<()>) -> ExecResult {
        self.alerts.push(a);
        Ok(())
    }

    fn finish(&mut self, _out: &mut impl Emitter<()>) {
        self.alerts.sort_by_key(|a| a.seq);
        for a in &self.alerts {
            println!(
                "alert seq {} sensor {} {:.1}C (mean {:.1}C)",
                a.seq, a.sensor, a.celsius, a.mean
            );
        }
    }
}

/// Counts normal readings.
#[derive(Default)]
pub struct CountNormal {
    n: u64,
}

impl Bolt for CountNormal {
    type In = Reading;
    type Out = ();

    fn execute(&mut self, _r: Reading, _out: &mut impl Emitter<()>) -> ExecResult {
        self.n += 1;
        Ok(())
    }
}

fn main() -> std::process::ExitCode {
    gale::main(sensors::topology())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_generator_rewinds_to_its_checkpointed_position() {
        let fresh = || Readings {
            next: 0,
            step: 2,
            end: 40,
            sensors: 5,
        };
        let mut a = fresh();
        let mut first: Vec<Reading> = Vec::new();
        for _ in 0..7 {
            a.next_tuple(&mut first);
        }
        let position = a.snapshot_state(1).expect("snapshot");
        let mut after: Vec<Reading> = Vec::new();
        while a.next_tuple(&mut after) == SpoutStatus::Active {}
        // A restarted task rewinds to the position: it emits exactly what came after it.
        let mut b = fresh();
        b.initialize_state(position).expect("restore");
        let mut again: Vec<Reading> = Vec::new();
        while b.next_tuple(&mut again) == SpoutStatus::Active {}
        let seqs = |v: &[Reading]| v.iter().map(|r| r.seq).collect::<Vec<_>>();
        assert_eq!(seqs(&again), seqs(&after));
        assert_eq!(seqs(&first).len() + seqs(&after).len(), 20);
    }
}
