//! `session(gap, aggregation)`: per key, activity separated by less than the gap (merging) (`session(30s, count)`). What windows share is in `window.rs`; the
//! runtime half is `gale::window`.

use super::window::{self, Kind, WindowCall};
use super::{Builtin, Outputs, Site};
use crate::ast::BuiltinCall;
use crate::diagnostic::Diagnostics;
use proc_macro2::TokenStream;

/// `session(gap, aggregation)`.
pub struct Session;

impl Session {
    /// The call, checked.
    fn read(&self, call: &BuiltinCall, diags: &mut Diagnostics) -> Option<WindowCall> {
        let (sizes, aggregation, processing_time) = window::read(self, call, 1, false, diags)?;
        Some(WindowCall {
            kind: Kind::Session { gap: sizes[0] },
            aggregation,
            processing_time,
        })
    }
}

impl Builtin for Session {
    fn name(&self) -> &'static str {
        "session"
    }

    fn usage(&self) -> &'static str {
        "session(30s, count)"
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
