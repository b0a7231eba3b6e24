//! `sliding(size, slide, aggregation)`: windows of `size` starting every `slide`
//! (`sliding(10s, 2s, sum(amount))`); the size must be a multiple of the slide (`E0421`).
//! What windows share is in `window.rs`; the runtime half is `gale::window`.

use super::window::{Kind, WindowKind};
use crate::ast::{BuiltinCall, OpArg};
use crate::diagnostic::{Diagnostic, Diagnostics};

/// `sliding(size, slide, aggregation)`.
pub const SLIDING: WindowKind = WindowKind {
    name: "sliding",
    usage: "sliding(10s, 2s, sum(amount))",
    sizes: 2,
    counts: false,
    kind: |s| Kind::Sliding {
        size: s[0],
        slide: s[1],
    },
    check_sizes: Some(slide_divides_size),
};

/// `E0421`: every element must be in the same number of windows.
fn slide_divides_size(sizes: &[u64], call: &BuiltinCall, diags: &mut Diagnostics) -> bool {
    let (size, slide) = (sizes[0], sizes[1]);
    if size % slide == 0 && slide <= size {
        return true;
    }
    diags.push(
        Diagnostic::error(
            "E0421",
            format!("a sliding window of {size} ms is not a multiple of its slide of {slide} ms"),
            call.args.get(1).map_or(call.span, OpArg::span),
        )
        .with_label("the slide must divide the size")
        .with_help("every element must be in the same number of windows: make the size a multiple of the slide, e.g. `sliding(10s, 2s, ...)`"),
    );
    false
}
