//! Diagnostics: collected, never thrown, rendered like rustc's.
//!
//! Every pass pushes [`Diagnostic`]s into a [`Diagnostics`] and goes on, so a user sees every
//! error in a file at once. A diagnostic is an error (`E0xxx`: the file does not compile) or
//! a warning (`W0xxx`: it compiles, but a setting cannot work as meant). [`Diagnostics::render`] prints them with file, line, column, a
//! caret under the span and a help line (codespan-reporting); the macros turn them into
//! `compile_error!`s at the same spans instead.

use crate::ast::Span;
use codespan_reporting::diagnostic::{Diagnostic as CsDiagnostic, Label};
use codespan_reporting::files::SimpleFile;
use codespan_reporting::term::{self, termcolor::NoColor};

/// Whether a diagnostic stops the compilation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// The file does not compile.
    Error,
    /// The file compiles, but something in it cannot work as meant.
    Warning,
}

/// One error or warning found in a `.topo` file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// A stable code (`E0101`, `W0601`), listed in `grammar/README.md`.
    pub code: &'static str,
    /// What is wrong, in one line.
    pub message: String,
    /// Where: the caret goes under this span.
    pub span: Span,
    /// The text under the primary caret (may be empty).
    pub label: String,
    /// Secondary spans with their text (`first defined here`).
    pub notes: Vec<(Span, String)>,
    /// How to fix it.
    pub help: Option<String>,
}

impl Diagnostic {
    /// A diagnostic with a code, a message and a primary span.
    pub fn error(code: &'static str, message: impl Into<String>, span: Span) -> Self {
        Diagnostic {
            severity: Severity::Error,
            code,
            message: message.into(),
            span,
            label: String::new(),
            notes: Vec::new(),
            help: None,
        }
    }

    /// A warning with a code, a message and a primary span.
    pub fn warning(code: &'static str, message: impl Into<String>, span: Span) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(code, message, span)
        }
    }

    /// Whether it is an error (not a warning).
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// Sets the text under the caret.
    pub fn with_label(mut self, label: impl Into<String>) -> Self {
        self.label = label.into();
        self
    }

    /// Adds a secondary span.
    pub fn with_note(mut self, span: Span, text: impl Into<String>) -> Self {
        self.notes.push((span, text.into()));
        self
    }

    /// Sets the help line.
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
}

/// The diagnostics of one compilation, in the order they were found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Diagnostics {
    /// The diagnostics.
    pub items: Vec<Diagnostic>,
}

impl Diagnostics {
    /// Records one diagnostic.
    pub fn push(&mut self, d: Diagnostic) {
        self.items.push(d);
    }

    /// True when nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// How many errors (not warnings) were recorded.
    pub fn error_count(&self) -> usize {
        self.items.iter().filter(|d| d.is_error()).count()
    }

    /// True when at least one error (not a warning) was recorded.
    pub fn has_errors(&self) -> bool {
        self.items.iter().any(Diagnostic::is_error)
    }

    /// Renders every diagnostic like rustc, without colour: `error[E0101]: ...`,
    /// ` --> file:line:col`, the source line, a caret under the span, and the help; then a
    /// summary line (`error: could not compile ...` or `warning: ... generated 1 warning`).
    pub fn render(&self, file_name: &str, source: &str) -> String {
        let file = SimpleFile::new(file_name, source);
        let config = term::Config::default();
        let mut out = NoColor::new(Vec::new());
        for d in &self.items {
            let mut labels = vec![Label::primary((), clamp(d.span, source)).with_message(&d.label)];
            for (span, text) in &d.notes {
                labels.push(Label::secondary((), clamp(*span, source)).with_message(text));
            }
            let cs = match d.severity {
                Severity::Error => CsDiagnostic::error(),
                Severity::Warning => CsDiagnostic::warning(),
            };
            let mut cs = cs
                .with_code(d.code)
                .with_message(&d.message)
                .with_labels(labels);
            if let Some(help) = &d.help {
                cs = cs.with_notes(vec![format!("help: {help}")]);
            }
            // Writing into a Vec cannot fail; a failure here would only lose formatting.
            let _ = term::emit(&mut out, &config, &file, &cs);
        }
        let errors = self.error_count();
        let warnings = self.items.len() - errors;
        let plural = |n: usize| if n == 1 { "" } else { "s" };
        let mut text = String::from_utf8_lossy(&out.into_inner()).into_owned();
        if errors > 0 {
            text.push_str(&format!(
                "error: could not compile `{file_name}` due to {errors} previous error{}",
                plural(errors)
            ));
            if warnings > 0 {
                text.push_str(&format!("; {warnings} warning{} emitted", plural(warnings)));
            }
            text.push('\n');
        } else if warnings > 0 {
            text.push_str(&format!(
                "warning: `{file_name}` generated {warnings} warning{}\n",
                plural(warnings)
            ));
        }
        text
    }

    /// Only the warnings.
    pub fn warnings(&self) -> Diagnostics {
        Diagnostics {
            items: self
                .items
                .iter()
                .filter(|d| !d.is_error())
                .cloned()
                .collect(),
        }
    }
}

/// 1-based line and column of a byte offset.
pub fn line_col(source: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(source.len());
    let before = &source[..offset];
    let line = before.matches('\n').count() + 1;
    let col = before.rfind('\n').map_or(offset, |nl| offset - nl - 1) + 1;
    (line, col)
}

fn clamp(span: Span, source: &str) -> std::ops::Range<usize> {
    let end = span.end.min(source.len());
    span.start.min(end)..end
}
