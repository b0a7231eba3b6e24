//! The live one-line progress display of `run` on a terminal.

use crate::exec::local::Progress;
use crate::topology::Kind;
use std::io::Write;

/// Redraws the progress line: elapsed time, then per component the tuples it handled.
pub(crate) fn show(p: &Progress<'_>) {
    let secs = p.elapsed.as_secs_f64().max(1e-9);
    let desc = p.topology.desc();
    let mut line = format!("\r\x1b[2K[{secs:6.1}s]");
    for (c, (emitted, executed, _)) in desc.components.iter().zip(p.metrics.snapshot()) {
        let n = if c.kind == Kind::Spout {
            emitted
        } else {
            executed
        };
        line.push_str(&format!(
            " {} {} ({}/s)",
            c.name,
            human(n as f64),
            human(n as f64 / secs)
        ));
    }
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(line.as_bytes());
    let _ = err.flush();
}

/// Erases the progress line.
pub(crate) fn clear() {
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(b"\r\x1b[2K");
    let _ = err.flush();
}

fn human(n: f64) -> String {
    if n >= 1e9 {
        format!("{:.1}G", n / 1e9)
    } else if n >= 1e6 {
        format!("{:.1}M", n / 1e6)
    } else if n >= 1e3 {
        format!("{:.1}k", n / 1e3)
    } else {
        format!("{n:.0}")
    }
}
