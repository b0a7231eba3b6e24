//! `gale check` as a user runs it: the `gale` binary on `.topo` files, its exit code, its
//! output formats, and its speed.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

fn fixture(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("gale-cli-check-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("topologies")).expect("temp dir");
    let path = dir.join("topologies").join(name);
    std::fs::write(&path, text).expect("fixture");
    path
}

const GOOD: &str = "use x::{W, C};\ntuple Word { word: String }\ntopology good {\n    spout w = W -> Word\n    bolt  c = C(Word)\n    w -> c\n}\n";
const BAD: &str = "use x::{W, C};\ntuple Word { word: String }\ntopology bad {\n    spout w = W -> Word\n    blot  c = C(Word)\n}\n";

#[test]
fn check_reports_like_rustc_and_fails_on_errors() {
    let good = fixture("good.topo", GOOD);
    let bad = fixture("bad.topo", BAD);
    let start = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_gale"))
        .arg("check")
        .arg(&good)
        .arg(&bad)
        .output()
        .expect("running gale");
    let elapsed = start.elapsed();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "errors must fail the command");
    assert!(
        stdout.starts_with("error[E0001]: unknown keyword `blot`"),
        "{stdout}"
    );
    assert!(stdout.contains("bad.topo:5:5"), "{stdout}");
    assert!(
        stderr.contains("checked 2 files: 1 error, 0 warnings"),
        "{stderr}"
    );
    assert!(elapsed < Duration::from_secs(1), "took {elapsed:?}");

    let ok = Command::new(env!("CARGO_BIN_EXE_gale"))
        .arg("check")
        .arg(&good)
        .output()
        .expect("running gale");
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );

    let json = Command::new(env!("CARGO_BIN_EXE_gale"))
        .args(["check", "--message-format", "json"])
        .arg(&bad)
        .output()
        .expect("running gale");
    let json = String::from_utf8_lossy(&json.stdout);
    assert_eq!(json.lines().count(), 1, "{json}");
    assert!(
        json.contains(r#""severity":"error","code":"E0001","message":"unknown keyword `blot`","line":5,"column":5"#),
        "{json}"
    );

    // From a crate directory, without arguments: `topologies/*.topo`.
    let crate_dir = good.parent().and_then(|p| p.parent()).expect("crate dir");
    let here = Command::new(env!("CARGO_BIN_EXE_gale"))
        .arg("check")
        .current_dir(crate_dir)
        .output()
        .expect("running gale");
    let stdout = String::from_utf8_lossy(&here.stdout);
    assert!(!here.status.success());
    assert!(stdout.contains("topologies/bad.topo:5:5"), "{stdout}");
    let _ = std::fs::remove_dir_all(crate_dir);
}
