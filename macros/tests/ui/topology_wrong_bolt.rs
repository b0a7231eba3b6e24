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

    topology sensors {
        spout readings = Sensors() -> Reading
        bolt  shout    = Shout(Reading)

        readings -> shout
    }
}

fn main() {}
