//! `count_window(n, aggregation)`: per key, every n elements (`count_window(100, avg(amount))`). What windows share is in `window.rs`; the
//! runtime half is `gale::window`.

use super::window::{self, Kind, WindowCall};
use super::{Builtin, Outputs, Site};
use crate::ast::BuiltinCall;
use crate::diagnostic::Diagnostics;
use proc_macro2::TokenStream;

/// `count_window(n, aggregation)`.
pub struct CountWindow;

impl CountWindow {
    /// The call, checked.
    fn read(&self, call: &BuiltinCall, diags: &mut Diagnostics) -> Option<WindowCall> {
        let (sizes, aggregation, processing_time) = window::read(self, call, 1, true, diags)?;
        Some(WindowCall {
            kind: Kind::Count { n: sizes[0] },
            aggregation,
            processing_time,
        })
    }
}

impl Builtin for CountWindow {
    fn name(&self) -> &'static str {
        "count_window"
    }

    fn usage(&self) -> &'static str {
        "count_window(100, avg(amount))"
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
