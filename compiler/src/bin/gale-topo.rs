//! `gale-topo`: the `.topo` compiler's command line.
//!
//! ```text
//! gale-topo check FILE.topo                        # the diagnostics of a .topo file
//! gale-topo check-savepoint FILE.topo SAVEPOINT    # can it restore that savepoint?
//! ```
//!
//! Both print diagnostics as the build does (file:line:col, caret, help) and exit 1 on an
//! error, so a deploy script can run them before it ships a binary.

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (file, savepoint) = match args.as_slice() {
        [cmd, file] if cmd == "check" => (file, None),
        [cmd, file, dir] if cmd == "check-savepoint" => (file, Some(dir)),
        _ => {
            eprintln!(
                "usage: gale-topo check FILE.topo\n       gale-topo check-savepoint FILE.topo SAVEPOINT_DIR"
            );
            return ExitCode::from(2);
        }
    };
    let source = match std::fs::read_to_string(file) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {file}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = match savepoint {
        None => gale_compiler::front_end(file, &source).map(|g| {
            if !g.warnings.is_empty() {
                eprint!("{}", g.warnings.render(file, &source));
            }
        }),
        Some(dir) => {
            gale_compiler::savepoint::check_savepoint(file, &source, std::path::Path::new(dir))
        }
    };
    match result {
        Ok(()) => {
            match savepoint {
                Some(dir) => println!("{file}: can restore the savepoint in {dir}"),
                None => println!("{file}: ok"),
            }
            ExitCode::SUCCESS
        }
        Err(d) => {
            eprint!("{}", d.render(file, &source));
            ExitCode::FAILURE
        }
    }
}
