#[derive(Debug, Clone, gale::Tuple)]
struct Pair(u32, String);

#[derive(Debug, Clone, gale::Tuple)]
struct Wrapper<T> {
    inner: T,
}

fn main() {}
