gale::topology! {
    tuple Reading { sensor: u32 }

    topology sensors {
        spout readings = Sensors() -> Reading
        bolt  sink     = Sink(Reading)

        readings -> snik
    }
}

fn main() {}
