gale::topology! {
    topology broken {
        spout source = Source() -> Reading parallelism
        bolt sink = Sink(Reading)
    }
}

fn main() {}
