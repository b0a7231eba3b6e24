//! `gale check [FILE.topo...]`: the compiler's front end on `.topo` files, without building.
//!
//! It parses and checks each file exactly as `build.rs` would and prints every diagnostic,
//! errors and warnings, in rustc's format (`--message-format human`, the default) or as
//! one JSON object per line (`--message-format json`, for editors and CI). Without files it
//! checks `topologies/*.topo` in the current directory: run it from a topology binary's
//! crate. It exits with a failure when any file has an error (warnings alone succeed).
//! With `--savepoint DIR` it also checks that each file can restore the savepoint in `DIR`
//! (`E0701`: an operator's state has another shape now; `E0702`: state no operator takes),
//! before anything is built or deployed.
//!
//! This is the one place the runtime crate uses `gale-compiler` directly; the dependency is
//! already there through `gale-macros`, and the compiler never depends on the runtime.

use clap::{Arg, ArgAction, ArgMatches, Command};
use gale_compiler::diagnostic::{Diagnostic, Diagnostics, Severity, line_col};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The `check` subcommand's arguments.
pub fn command() -> Command {
    Command::new("check")
        .about("Check .topo files without building (default: topologies/*.topo)")
        .arg(
            Arg::new("files")
                .value_name("FILE.topo")
                .action(ArgAction::Append)
                .help("The files to check"),
        )
        .arg(
            Arg::new("savepoint")
                .long("savepoint")
                .value_name("DIR")
                .help("Also check that the files can restore the savepoint in DIR"),
        )
        .arg(
            Arg::new("message-format")
                .long("message-format")
                .value_name("FORMAT")
                .value_parser(["human", "json"])
                .default_value("human")
                .help("`human`: like rustc; `json`: one JSON object per diagnostic and line"),
        )
}

/// How diagnostics are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// rustc's text format.
    Human,
    /// One JSON object per diagnostic, per line.
    Json,
}

/// What checking some files found.
#[derive(Debug, Default)]
pub struct Report {
    /// The text to print on stdout.
    pub output: String,
    /// Errors in all files.
    pub errors: usize,
    /// Warnings in all files.
    pub warnings: usize,
    /// Files checked.
    pub files: usize,
}

/// Why `gale check` failed. None is retryable: the files or the command line must change.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// No files were named and `topologies/` cannot be read.
    #[error(
        "no files given and cannot read {}: {source} (run it in a topology crate, or name the files)",
        dir.display()
    )]
    NoTopologiesDir {
        /// The `topologies` directory looked in.
        dir: PathBuf,
        /// Why it could not be read.
        source: std::io::Error,
    },
    /// No files were named and `topologies/` holds no `.topo` file.
    #[error("no .topo files in {}", .0.display())]
    NoFiles(PathBuf),
    /// A named file cannot be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why it could not be read.
        source: std::io::Error,
    },
    /// The files have errors (printed as diagnostics).
    #[error("{n} error{s} in the .topo files", n = .0, s = plural(*.0))]
    Diagnostics(usize),
}

/// Runs `gale check` with its parsed arguments.
pub fn run(m: &ArgMatches) -> Result<(), CheckError> {
    let format = match m.get_one::<String>("message-format").map(String::as_str) {
        Some("json") => Format::Json,
        _ => Format::Human,
    };
    let files: Vec<PathBuf> = match m.get_many::<String>("files") {
        Some(files) => files.map(PathBuf::from).collect(),
        None => default_files(Path::new("."))?,
    };
    let savepoint = m.get_one::<String>("savepoint").map(PathBuf::from);
    let report = check_files(&files, savepoint.as_deref(), format)?;
    print!("{}", report.output);
    if format == Format::Human {
        eprintln!(
            "checked {} file{}: {} error{}, {} warning{}",
            report.files,
            plural(report.files),
            report.errors,
            plural(report.errors),
            report.warnings,
            plural(report.warnings)
        );
    }
    if report.errors > 0 {
        return Err(CheckError::Diagnostics(report.errors));
    }
    Ok(())
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// `dir/topologies/*.topo`, sorted; an error when there are none.
pub fn default_files(dir: &Path) -> Result<Vec<PathBuf>, CheckError> {
    let topologies = dir.join("topologies");
    let entries = std::fs::read_dir(&topologies).map_err(|source| CheckError::NoTopologiesDir {
        dir: topologies.clone(),
        source,
    })?;
    let mut files: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "topo"))
        .map(|p| p.strip_prefix("./").map(Path::to_path_buf).unwrap_or(p))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(CheckError::NoFiles(topologies));
    }
    Ok(files)
}

/// Checks every file (and, given `savepoint`, that it can restore that savepoint); an
/// unreadable file is an error (of the command, not a diagnostic).
pub fn check_files(
    files: &[PathBuf],
    savepoint: Option<&Path>,
    format: Format,
) -> Result<Report, CheckError> {
    let mut report = Report::default();
    for path in files {
        let source = std::fs::read_to_string(path).map_err(|source| CheckError::Read {
            path: path.clone(),
            source,
        })?;
        let name = path.to_string_lossy().replace('\\', "/");
        let diags = match gale_compiler::front_end(&name, &source) {
            Ok(graph) => match savepoint
                .map(|sp| gale_compiler::savepoint::check_savepoint(&name, &source, sp))
            {
                Some(Err(d)) => d,
                _ => graph.warnings,
            },
            Err(diags) => diags,
        };
        report.files += 1;
        report.errors += diags.error_count();
        report.warnings += diags.items.len() - diags.error_count();
        if diags.is_empty() {
            continue;
        }
        match format {
            Format::Human => report.output.push_str(&diags.render(&name, &source)),
            Format::Json => {
                for d in &diags.items {
                    report.output.push_str(&json(d, &name, &source));
                    report.output.push('\n');
                }
            }
        }
    }
    Ok(report)
}

/// One diagnostic as a JSON object: file, severity, code, message, the primary span
/// (1-based lines and columns, byte offsets), label, notes, help, and the rustc rendering.
pub fn json(d: &Diagnostic, file: &str, source: &str) -> String {
    let (line, column) = line_col(source, d.span.start);
    let (end_line, end_column) = line_col(source, d.span.end);
    let severity = match d.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    };
    let mut notes = String::new();
    for (i, (span, text)) in d.notes.iter().enumerate() {
        let (l, c) = line_col(source, span.start);
        if i > 0 {
            notes.push(',');
        }
        let _ = write!(
            notes,
            r#"{{"line":{l},"column":{c},"message":{}}}"#,
            string(text)
        );
    }
    let one = Diagnostics {
        items: vec![d.clone()],
    };
    let rendered = one.render(file, source);
    let rendered = rendered
        .rsplit_once("\nerror: could not compile")
        .or_else(|| rendered.rsplit_once("\nwarning: `"))
        .map_or(rendered.as_str(), |(body, _)| body);
    let help = d.help.as_deref().map_or("null".to_string(), string);
    format!(
        r#"{{"file":{},"severity":"{severity}","code":"{}","message":{},"line":{line},"column":{column},"end_line":{end_line},"end_column":{end_column},"byte_start":{},"byte_end":{},"label":{},"notes":[{notes}],"help":{help},"rendered":{}}}"#,
        string(file),
        d.code,
        string(&d.message),
        d.span.start,
        d.span.end,
        string(&d.label),
        string(rendered.trim_end()),
    )
}

/// A JSON string literal.
fn string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).expect("writing a fixture");
        path
    }

    fn temp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("gale-check-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("topologies")).expect("temp dir");
        dir
    }

    const BAD: &str = "use x::{W, C};\ntuple Word { word: String }\ntopology t {\n    spout w = W -> Word\n    bolt c = C(Word)\n    w -> cont\n}\n";

    #[test]
    fn a_savepoint_it_cannot_restore_is_reported_at_the_operators_lines() {
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../compiler/tests/savepoint");
        let topo = fixtures.join("incompatible.topo");
        let report = check_files(
            std::slice::from_ref(&topo),
            Some(&fixtures.join("incompatible")),
            Format::Json,
        )
        .expect("readable");
        let codes: Vec<&str> = report
            .output
            .lines()
            .filter_map(|l| l.split(r#""code":""#).nth(1)?.get(..5))
            .collect();
        assert_eq!(codes, ["E0701", "E0702"], "{}", report.output);
        assert!(
            report.output.contains(r#""line":13"#),
            "`count`: {}",
            report.output
        );
        let fine = check_files(
            &[fixtures.join("compatible.topo")],
            Some(&fixtures.join("compatible")),
            Format::Human,
        )
        .expect("readable");
        assert_eq!(fine.errors, 0, "{}", fine.output);
        // Without --savepoint the same file is sound.
        assert_eq!(
            check_files(&[topo], None, Format::Human)
                .expect("readable")
                .errors,
            0
        );
    }

    #[test]
    fn human_output_is_rustcs() {
        let dir = temp("human");
        let path = write(&dir, "bad.topo", BAD);
        let report = check_files(&[path], None, Format::Human).expect("readable");
        assert_eq!((report.files, report.errors, report.warnings), (1, 1, 0));
        assert!(
            report
                .output
                .starts_with("error[E0301]: cannot find component `cont`"),
            "{}",
            report.output
        );
        assert!(report.output.contains("bad.topo:6:10"), "{}", report.output);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn json_has_one_object_per_diagnostic() {
        let dir = temp("json");
        let path = write(&dir, "bad.topo", BAD);
        let report = check_files(&[path], None, Format::Json).expect("readable");
        let lines: Vec<&str> = report.output.lines().collect();
        assert_eq!(lines.len(), 1, "{}", report.output);
        assert!(lines[0].starts_with(r#"{"file":""#), "{}", lines[0]);
        assert!(lines[0].contains(r#""severity":"error","code":"E0301""#));
        assert!(lines[0].contains(r#""line":6,"column":10,"end_line":6,"end_column":14"#));
        assert!(
            lines[0].contains(r#""help":"a component with a similar name exists: `count`"#)
                || lines[0].contains(r#""help":null"#)
        );
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn without_files_it_checks_the_topologies_directory() {
        let dir = temp("default");
        write(&dir.join("topologies"), "b.topo", BAD);
        write(
            &dir.join("topologies"),
            "a.topo",
            "use x::W; topology a { spout w = W -> W }",
        );
        let files = default_files(&dir).expect("two files");
        let names: Vec<_> = files.iter().filter_map(|f| f.file_name()).collect();
        assert_eq!(names, ["a.topo", "b.topo"]);
        assert!(default_files(&dir.join("nowhere")).is_err());
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn strings_are_escaped() {
        assert_eq!(string("a\"b\\\n\u{1}"), r#""a\"b\\\n\u0001""#);
    }
}
