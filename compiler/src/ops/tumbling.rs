//! `tumbling(size, aggregation)`: fixed windows of one size, aligned to the epoch (`tumbling(10s, count)`). What windows share is in `window.rs`; the
//! runtime half is `gale::window`.

use super::window::{Kind, WindowKind};

/// `tumbling(size, aggregation)`.
pub const TUMBLING: WindowKind = WindowKind {
    name: "tumbling",
    usage: "tumbling(10s, count)",
    sizes: 1,
    counts: false,
    kind: |s| Kind::Tumbling { size: s[0] },
    check_sizes: None,
};
