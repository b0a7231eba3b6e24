//! The compiler's diagnostics as `compile_error!`s at the tokens they are about.
//!
//! `compile_error!` carries one message and one span, so a diagnostic's code, caret label,
//! notes and help all go into the message:
//!
//! ```text
//! [E0103] the tuple `Word` is declared twice (declared again here)
//! note: first declared here, at line 4, column 11
//! help: ...
//! ```
//!
//! The span runs from the first to the last token under the diagnostic's byte range, so
//! rustc underlines the same code the `.topo` renderer would.

use crate::source_text::SourceText;
use gale_compiler::diagnostic::{Diagnostic, Diagnostics, line_col};
use proc_macro2::{Ident, Span, TokenStream, TokenTree};

/// The warnings, as rustc warnings at the tokens they are about.
///
/// Stable Rust gives proc macros no way to emit a warning; the known workaround is used:
/// each warning is a deprecated item, used once at the warning's span, so rustc prints
/// `use of deprecated unit struct `topology_warning`: [W0602] ...` there.
pub(crate) fn warnings(diags: &Diagnostics, source: &SourceText) -> TokenStream {
    let mut out = TokenStream::new();
    for d in diags.items.iter().filter(|d| !d.is_error()) {
        let (first, _) = source
            .spans(d.span.start, d.span.end)
            .unwrap_or((Span::call_site(), Span::call_site()));
        let note = message(d, &source.text);
        let name = Ident::new("topology_warning", first);
        out.extend(quote::quote! {
            const _: () = {
                #[deprecated(note = #note)]
                #[allow(non_camel_case_types)]
                struct topology_warning;
                let _ = #name;
            };
        });
    }
    out
}

/// One `compile_error!` per error, then the warnings (see [`warnings`]).
pub(crate) fn compile_errors(diags: &Diagnostics, source: &SourceText) -> TokenStream {
    let mut all: Option<syn::Error> = None;
    for d in diags.items.iter().filter(|d| d.is_error()) {
        let e = error(d, source);
        match &mut all {
            Some(all) => all.combine(e),
            None => all = Some(e),
        }
    }
    all.unwrap_or_else(|| {
        syn::Error::new(
            Span::call_site(),
            "the topology could not be compiled, but the compiler gave no reason",
        )
    })
    .into_compile_error()
    .into_iter()
    .chain(warnings(diags, source))
    .collect()
}

fn error(d: &Diagnostic, source: &SourceText) -> syn::Error {
    let (first, last) = source
        .spans(d.span.start, d.span.end)
        .unwrap_or((Span::call_site(), Span::call_site()));
    // `new_spanned` takes its range from the first and last tokens it is given.
    let range: TokenStream = [first, last]
        .into_iter()
        .map(|span| TokenTree::Ident(Ident::new("x", span)))
        .collect();
    syn::Error::new_spanned(range, message(d, &source.text))
}

/// The message: `[code] message (label)`, then a line per note and the help.
fn message(d: &Diagnostic, text: &str) -> String {
    let mut m = format!("[{}] {}", d.code, d.message);
    if !d.label.is_empty() && !d.message.contains(&d.label) {
        m.push_str(&format!(" ({})", d.label));
    }
    for (span, note) in &d.notes {
        let (line, column) = line_col(text, span.start);
        m.push_str(&format!("\nnote: {note}, at line {line}, column {column}"));
    }
    if let Some(help) = &d.help {
        m.push_str(&format!("\nhelp: {help}"));
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use gale_compiler::ast::Span as TextSpan;

    #[test]
    fn message_carries_code_label_notes_and_help() {
        let text = "tuple A {}\ntuple A {}";
        let d = Diagnostic::error(
            "E0103",
            "the tuple `A` is declared twice",
            TextSpan::new(17, 18),
        )
        .with_label("declared again here")
        .with_note(TextSpan::new(6, 7), "first declared here")
        .with_help("rename one of them");
        assert_eq!(
            message(&d, text),
            "[E0103] the tuple `A` is declared twice (declared again here)\n\
             note: first declared here, at line 1, column 7\n\
             help: rename one of them"
        );
    }

    #[test]
    fn a_label_repeating_the_message_is_left_out() {
        let d = Diagnostic::error(
            "E0001",
            "expected a number, found `bolt`",
            TextSpan::new(0, 1),
        )
        .with_label("expected a number");
        assert_eq!(message(&d, ""), "[E0001] expected a number, found `bolt`");
    }
}
