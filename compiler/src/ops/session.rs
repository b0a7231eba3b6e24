//! `session(gap, aggregation)`: per key, activity separated by less than the gap (merging) (`session(30s, count)`). What windows share is in `window.rs`; the
//! runtime half is `gale::window`.

use super::window::{Kind, WindowKind};

/// `session(gap, aggregation)`.
pub const SESSION: WindowKind = WindowKind {
    name: "session",
    usage: "session(30s, count)",
    sizes: 1,
    counts: false,
    kind: |s| Kind::Session { gap: s[0] },
    check_sizes: None,
};
