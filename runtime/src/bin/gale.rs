//! The `gale` command: cluster daemons (`nimbus`, `supervisor`) and client (`submit`,
//! `list`, `kill`, `rebalance`).

fn main() -> std::process::ExitCode {
    gale::cluster::cli::main()
}
