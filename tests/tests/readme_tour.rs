//! The README's tour works as written: its code blocks, extracted into a crate outside the
//! workspace, build and run, and the mistake of step 5 gives exactly the error shown.
//!
//! A block is a file of the tour when its first line names it (`# Cargo.toml`,
//! `// src/ops.rs`...). The `Cargo.toml`'s path dependencies are pointed at this workspace.

use gale_tests::user_crate::{UserCrate, workspace};

/// The tour's files: (path, contents), in README order.
fn tour_files(readme: &str) -> Vec<(String, String)> {
    let mut files = Vec::new();
    let mut block: Option<Vec<&str>> = None;
    for line in readme.lines() {
        match (&mut block, line.starts_with("```")) {
            (None, true) => block = Some(Vec::new()),
            (Some(lines), true) => {
                let first = lines.first().copied().unwrap_or("");
                let path = first
                    .strip_prefix("# ")
                    .or_else(|| first.strip_prefix("// "))
                    .filter(|p| {
                        ["Cargo.toml", "build.rs"].contains(p)
                            || p.starts_with("src/")
                            || p.starts_with("topologies/")
                    });
                if let Some(path) = path {
                    files.push((path.to_string(), lines.join("\n") + "\n"));
                }
                block = None;
            }
            (Some(lines), false) => lines.push(line),
            (None, false) => {}
        }
    }
    files
}

/// The error block of step 5, from its `--- stderr` line to its last line (the lines
/// above it hold paths that differ between machines).
fn shown_error(readme: &str) -> String {
    let start = readme.find("  --- stderr").expect("step 5 shows an error");
    let end = readme[start..]
        .find("```")
        .map_or(readme.len(), |e| start + e);
    readme[start..end].trim_end().to_string()
}

#[test]
fn the_readme_tour_builds_runs_and_fails_as_shown() {
    let root = workspace();
    let readme = std::fs::read_to_string(root.join("README.md")).expect("README.md");
    let files = tour_files(&readme);
    let paths: Vec<&str> = files.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(
        paths,
        [
            "Cargo.toml",
            "build.rs",
            "topologies/wordcount.topo",
            "src/ops.rs",
            "src/main.rs"
        ]
    );
    let user = UserCrate::new("readme-tour").expect("temp crate");
    for (path, text) in &files {
        let text = if path == "Cargo.toml" {
            text.replace("../gale/runtime", &root.join("runtime").to_string_lossy())
                .replace("../gale/compiler", &root.join("compiler").to_string_lossy())
                + "\n[workspace]\n"
        } else {
            text.clone()
        };
        user.file(path, &text).expect("writing the crate");
    }

    let run = user
        .cargo(&["run", "--quiet", "--", "run", "--no-progress", "--quiet"])
        .expect("cargo run");
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    // Ground truth: the three sentences of `TEXT`, once.
    for line in ["word counts:", "the 3", "fox 1", "end 1", "dog 1"] {
        assert!(
            stdout.lines().any(|l| l == line),
            "no `{line}` in:\n{stdout}"
        );
    }

    let topo = files[2].1.replace("fields(word)", "fields(wrod)");
    user.file("topologies/wordcount.topo", &topo)
        .expect("the mistake");
    let build = user.cargo(&["build", "--quiet"]).expect("cargo build");
    let stderr = String::from_utf8_lossy(&build.stderr);
    assert!(!build.status.success());
    assert!(
        stderr.contains("error: failed to run custom build command for `my-pipeline v0.1.0"),
        "{stderr}"
    );
    let shown = shown_error(&readme);
    assert!(
        stderr.contains(&shown),
        "README shows:\n{shown}\n--- cargo prints:\n{stderr}"
    );
}
