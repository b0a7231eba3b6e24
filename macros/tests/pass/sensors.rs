//! A full `topology!` with a derived tuple: compiles, and runs to completion.

use gale::{Bolt, Emitter, ExecResult, Spout, SpoutStatus};
use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug, Clone, PartialEq, gale::Tuple)]
pub struct Reading {
    pub sensor: u32,
    pub celsius: f64,
}

#[derive(Default)]
pub struct Sensors {
    sent: u32,
}

impl Spout for Sensors {
    type Out = Reading;
    fn next_tuple(&mut self, out: &mut impl Emitter<Reading>) -> SpoutStatus {
        if self.sent == 100 {
            return SpoutStatus::Done;
        }
        out.emit(Reading { sensor: self.sent % 4, celsius: 20.5 });
        self.sent += 1;
        SpoutStatus::Active
    }
}

static SEEN: AtomicU64 = AtomicU64::new(0);

#[derive(Default)]
pub struct Average {
    sum: f64,
    n: u64,
}

impl Bolt for Average {
    type In = Reading;
    type Out = ();
    fn execute(&mut self, r: Reading, _: &mut impl Emitter<()>) -> ExecResult {
        self.sum += r.celsius;
        self.n += 1;
        SEEN.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

gale::topology! {
    use crate::Reading;

    topology sensors {
        config { guarantee = at_most_once, message_timeout = 30s }

        spout readings = Sensors() -> Reading parallelism 2
        bolt  avg      = Average(Reading)     parallelism 2

        readings -> avg : fields(sensor)
    }
}

fn main() {
    let summary = gale::run_local(sensors::topology(), Default::default());
    assert!(summary.is_ok(), "{summary:?}");
    assert_eq!(SEEN.load(Ordering::Relaxed), 200);
}
