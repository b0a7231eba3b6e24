//! Rolling top-N words, Storm's classic, as a Gale topology binary.
//!
//! ```text
//! cargo run -p topn -- run                          # top 10 of 200,000 Zipf-distributed words
//! cargo run -p topn -- run --set top=5 --set window=10000
//! ```

mod ops;

gale::include_topology!("topn");

fn main() -> std::process::ExitCode {
    gale::main(topn::topology())
}
