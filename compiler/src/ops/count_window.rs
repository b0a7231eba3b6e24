//! `count_window(n, aggregation)`: per key, every n elements (`count_window(100, avg(amount))`). What windows share is in `window.rs`; the
//! runtime half is `gale::window`.

use super::window::{Kind, WindowKind};

/// `count_window(n, aggregation)`.
pub const COUNT_WINDOW: WindowKind = WindowKind {
    name: "count_window",
    usage: "count_window(100, avg(amount))",
    sizes: 1,
    counts: true,
    kind: |s| Kind::Count { n: s[0] },
    check_sizes: None,
};
