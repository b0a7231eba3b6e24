gale::topology! {
    tuple Reading { sensor: u32 }

    topology sensors {
        spout readings = Sensors() -> Reading
        bolt  sink     = Sink(Reading)
        bolt  sink     = Other(Reading)

        readings -> sink
    }
}

fn main() {}
