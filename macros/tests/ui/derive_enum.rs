#[derive(Debug, Clone, gale::Tuple)]
enum Event {
    Click { x: u32 },
    Scroll,
}

fn main() {}
