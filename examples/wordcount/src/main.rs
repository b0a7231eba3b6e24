//! Word count, the hello world of stream processing, as a Gale topology binary.
//!
//! ```text
//! cargo run -p wordcount -- run            # local mode: counts the bundled text
//! cargo run -p wordcount -- run --set repeat=100 --set input=my.txt
//! cargo run -p wordcount -- plan --dot
//! ```

mod ops;

gale::include_topology!("wordcount");

fn main() -> std::process::ExitCode {
    gale::main(wordcount::topology())
}
