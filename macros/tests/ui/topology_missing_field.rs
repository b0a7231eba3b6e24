gale::topology! {
    tuple Reading { sensor: u32, celsius: f64 }

    topology sensors {
        spout readings = Sensors() -> Reading
        bolt  average  = Average(Reading)

        readings -> average : fields(sensor_id)
    }
}

fn main() {}
