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

#[derive(Default)]
pub struct Sink;
impl Bolt for Sink {
    type In = Reading;
    type Out = ();
    fn execute(&mut self, _: Reading, _: &mut impl Emitter<()>) -> ExecResult {
        Ok(())
    }
}

// `Reading` is a Rust type: only rustc knows its fields, through `Tuple::FIELDS`.
gale::topology! {
    use crate::Reading;

    topology sensors {
        spout readings = Sensors() -> Reading
        bolt  sink     = Sink(Reading) parallelism 2

        readings -> sink : fields(room)
    }
}

fn main() {}
