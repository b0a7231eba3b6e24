//! `tumbling(size, aggregation)`: fixed windows of one size, aligned to the epoch (`tumbling(10s, count)`). What windows share is in `window.rs`; the
//! runtime half is `gale::window`.

use super::window::{self, Kind, WindowCall};
use super::{Builtin, Outputs, Site};
use crate::ast::BuiltinCall;
use crate::diagnostic::Diagnostics;
use proc_macro2::TokenStream;

/// `tumbling(size, aggregation)`.
pub struct Tumbling;

impl Tumbling {
    /// The call, checked.
    fn read(&self, call: &BuiltinCall, diags: &mut Diagnostics) -> Option<WindowCall> {
        let (sizes, aggregation, processing_time) = window::read(self, call, 1, false, diags)?;
        Some(WindowCall {
            kind: Kind::Tumbling { size: sizes[0] },
            aggregation,
            processing_time,
        })
    }
}

impl Builtin for Tumbling {
    fn name(&self) -> &'static str {
        "tumbling"
    }

    fn usage(&self) -> &'static str {
        "tumbling(10s, count)"
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
