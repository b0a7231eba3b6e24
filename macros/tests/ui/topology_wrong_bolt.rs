//! Mistakes only rustc sees, each reported once at the `.topo` token, its message naming
//! the file, line and component: a bolt whose `In` differs from the topology's input, a
//! spout named as a bolt, and an operator that is not in scope. (And a checker warning,
//! `W0604`, shown at its token.)
use gale::{Bolt, Emitter, ExecResult, Spout, SpoutStatus};

#[derive(Debug, Clone, gale::Tuple)]
pub struct Reading {
    pub sensor: u32,
}

#[derive(Default)]
pub struct Sensors;
impl Spout for Sensors {
    type Out = Reading;
    fn next_tuple(&mut self, _: &mut impl Emitter<Reading>) -> SpoutStatus {
        SpoutStatus::Done
    }
}

/// A bolt of strings, not of readings.
#[derive(Default)]
pub struct Shout;
impl Bolt for Shout {
    type In = String;
    type Out = ();
    fn execute(&mut self, _: String, _: &mut impl Emitter<()>) -> ExecResult {
        Ok(())
    }
}

gale::topology! {
    use crate::Reading;

    topology wrong_input {
        spout readings = Sensors() -> Reading
        bolt  shout    = Shout(Reading)

        readings -> shout
    }
}

gale::topology! {
    use crate::Reading;

    topology spout_as_bolt {
        spout readings = Sensors() -> Reading
        bolt  again    = Sensors(Reading)

        readings -> again
    }
}

gale::topology! {
    use crate::Reading;

    topology not_imported {
        config { message_timout = 10s }
        spout readings = Sensors() -> Reading
        bolt  store    = Store(Reading)

        readings -> store
    }
}

fn main() {}
