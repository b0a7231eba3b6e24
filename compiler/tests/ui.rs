//! UI tests of the front end: what a user sees for each mistake.
//!
//! - `tests/ui/fail/*.topo` must fail to check; the rendered diagnostics must equal the
//!   golden `*.stderr` beside it.
//! - `tests/ui/warn/*.topo` must check, with warnings; the rendered warnings must equal
//!   the golden `*.stderr` beside it.
//! - `tests/ui/pass/*.topo` must check cleanly, without warnings.
//! - `tests/savepoint/*.topo` are checked against the savepoint in the directory of the
//!   same name (`check_savepoint`); what it reports must equal the golden `*.stderr`
//!   (empty: compatible).
//!
//! Run with `GALE_BLESS=1` to (re)write the goldens, then read the diff before committing.

use std::fs;
use std::path::{Path, PathBuf};

/// The `.topo` files of one fixture directory, sorted by name.
fn fixtures(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "topo"))
        .collect();
    files.sort();
    files
}

/// Compares `rendered` with the golden `*.stderr` beside fixture `path` (`rel` in
/// messages), or rewrites the golden when blessing.
fn compare_golden(path: &Path, rel: &str, rendered: &str, bless: bool, failures: &mut Vec<String>) {
    let golden = path.with_extension("stderr");
    if bless {
        fs::write(&golden, rendered).expect("writing the golden");
        return;
    }
    let expected = fs::read_to_string(&golden).unwrap_or_default();
    if expected != rendered {
        failures.push(format!(
            "{rel}: output differs from {}\n--- expected\n{expected}\n--- actual\n{rendered}",
            golden.display()
        ));
    }
}

/// What a fixture directory's files must produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Errors,
    Warnings,
    Clean,
}

#[test]
fn ui() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let bless = std::env::var("GALE_BLESS").is_ok_and(|v| v == "1");
    let mut failures = Vec::new();
    let mut count = 0;
    for (dir, expect) in [
        ("tests/ui/fail", Expect::Errors),
        ("tests/ui/warn", Expect::Warnings),
        ("tests/ui/pass", Expect::Clean),
    ] {
        for path in fixtures(&root.join(dir)) {
            count += 1;
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let rel = format!("{dir}/{name}");
            let source = fs::read_to_string(&path).expect("fixture is UTF-8");
            let rendered = match (gale_compiler::front_end(&rel, &source), expect) {
                (Ok(g), Expect::Clean) if g.warnings.is_empty() => continue,
                (Ok(g), Expect::Warnings) if !g.warnings.is_empty() => {
                    g.warnings.render(&rel, &source)
                }
                (Err(d), Expect::Errors) => d.render(&rel, &source),
                (Ok(g), _) => {
                    failures.push(format!(
                        "{rel}: expected {expect:?}, got {} warnings:\n{}",
                        g.warnings.items.len(),
                        g.warnings.render(&rel, &source)
                    ));
                    continue;
                }
                (Err(d), _) => {
                    failures.push(format!(
                        "{rel}: expected {expect:?}, got:\n{}",
                        d.render(&rel, &source)
                    ));
                    continue;
                }
            };
            compare_golden(&path, &rel, &rendered, bless, &mut failures);
        }
        // A golden whose fixture was deleted or renamed is stale.
        for entry in fs::read_dir(root.join(dir)).into_iter().flatten().flatten() {
            let p = entry.path();
            if p.extension().is_some_and(|x| x == "stderr") && !p.with_extension("topo").exists() {
                failures.push(format!("{}: golden without a fixture", p.display()));
            }
        }
    }
    assert!(count > 0, "no UI fixtures found");
    assert!(
        failures.is_empty(),
        "{} of {count} UI fixtures failed (GALE_BLESS=1 rewrites the goldens):\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

/// Every `"E0123"` (error) and `"W0123"` (warning) literal in `text`.
fn codes_in(text: &str) -> std::collections::BTreeSet<String> {
    text.match_indices("E0")
        .chain(text.match_indices("W0"))
        .filter_map(|(i, _)| text.get(i..i + 5))
        .filter(|c| c[1..].bytes().all(|b| b.is_ascii_digit()))
        .map(str::to_string)
        .collect()
}

/// The codes the front end emits, the table in `grammar/README.md` and the goldens agree:
/// every code is documented and has a fixture.
#[test]
fn every_code_is_documented_and_tested() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let read = |p: &Path| fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    let mut sources = read(&root.join("src/parse.rs"))
        + &read(&root.join("src/check.rs"))
        + &read(&root.join("src/savepoint.rs"));
    for entry in ["src/check", "src/ops"]
        .iter()
        .flat_map(|d| fs::read_dir(root.join(d)).expect("a source directory"))
        .flatten()
    {
        if entry.path().file_name().is_some_and(|n| n != "tests.rs") {
            sources += &read(&entry.path());
        }
    }
    let emitted = codes_in(&sources);
    let readme = read(&root.join("../grammar/README.md"));
    let documented = codes_in(
        &readme
            .lines()
            .filter(|l| l.starts_with("| E0") || l.starts_with("| W0"))
            .collect::<Vec<_>>()
            .join("\n"),
    );
    let mut goldens = String::new();
    let fixtures = ["tests/ui/fail", "tests/ui/warn", "tests/savepoint"].map(|d| root.join(d));
    for entry in fixtures
        .iter()
        .filter_map(|d| fs::read_dir(d).ok())
        .flatten()
        .flatten()
    {
        if entry.path().extension().is_some_and(|x| x == "stderr") {
            goldens += &read(&entry.path());
        }
    }
    let tested = codes_in(&goldens);
    assert_eq!(
        emitted, documented,
        "codes emitted vs. documented in grammar/README.md"
    );
    let untested: Vec<&String> = emitted.difference(&tested).collect();
    assert!(
        untested.is_empty(),
        "codes without a fail fixture: {untested:?}"
    );
}

#[test]
fn savepoint_checks_report_incompatible_operators_at_their_lines() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let bless = std::env::var("GALE_BLESS").is_ok_and(|v| v == "1");
    let mut failures = Vec::new();
    let dir = "tests/savepoint";
    for path in fixtures(&root.join(dir)) {
        let stem = path
            .file_stem()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let rel = format!("{dir}/{stem}.topo");
        let source = fs::read_to_string(&path).expect("fixture is UTF-8");
        // Relative (the tests run in the package's directory): the goldens name it.
        let savepoint = Path::new(dir).join(&stem);
        let rendered = match gale_compiler::savepoint::check_savepoint(&rel, &source, &savepoint) {
            Ok(()) => String::new(),
            Err(d) => d.render(&rel, &source),
        };
        compare_golden(&path, &rel, &rendered, bless, &mut failures);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
