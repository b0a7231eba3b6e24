//! `sliding(size, slide, aggregation)`: windows of `size` starting every `slide`
//! (`sliding(10s, 2s, sum(amount))`); the size must be a multiple of the slide (`E0421`).
//! What windows share is in `window.rs`; the runtime half is `gale::window`.

use super::window::{self, Kind, WindowCall};
use super::{Builtin, Outputs, Site};
use crate::ast::{BuiltinCall, OpArg};
use crate::diagnostic::{Diagnostic, Diagnostics};
use proc_macro2::TokenStream;

/// `sliding(size, slide, aggregation)`.
pub struct Sliding;

impl Sliding {
    /// The call, checked.
    fn read(&self, call: &BuiltinCall, diags: &mut Diagnostics) -> Option<WindowCall> {
        let (sizes, aggregation, processing_time) = window::read(self, call, 2, false, diags)?;
        let (size, slide) = (sizes[0], sizes[1]);
        if size % slide != 0 || slide > size {
            diags.push(
                Diagnostic::error(
                    "E0421",
                    format!("a sliding window of {size} ms is not a multiple of its slide of {slide} ms"),
                    call.args.get(1).map_or(call.span, OpArg::span),
                )
                .with_label("the slide must divide the size")
                .with_help("every element must be in the same number of windows: make the size a multiple of the slide, e.g. `sliding(10s, 2s, ...)`"),
            );
            return None;
        }
        Some(WindowCall {
            kind: Kind::Sliding { size, slide },
            aggregation,
            processing_time,
        })
    }
}

impl Builtin for Sliding {
    fn name(&self) -> &'static str {
        "sliding"
    }

    fn usage(&self) -> &'static str {
        "sliding(10s, 2s, sum(amount))"
    }

    fn outputs(&self) -> Outputs {
        Outputs::Declared
    }

    fn check(&self, call: &BuiltinCall, diags: &mut Diagnostics) {
        self.read(call, diags);
    }

    fn keys_its_input(&self) -> bool {
        true
    }

    fn window(&self, call: &BuiltinCall) -> Option<WindowCall> {
        self.read(call, &mut Diagnostics::default())
    }

    fn construct(&self, call: &BuiltinCall, site: &Site) -> TokenStream {
        window::construct(self.window(call), site)
    }
}
