//! The macro's tokens as `.topo` source text, with a map back from text to tokens.
//!
//! The compiler's front end reads text and reports byte ranges; the macro must report
//! `Span`s. [`SourceText::from_tokens`] writes each token where it stood in the user's
//! file (same line, same column, comments blanked), so line numbers in the compiler's
//! output (and in the names of generated assertions) are the file's, and tokens written
//! without space between them (`crate::ops::Split`) stay glued. When positions are not
//! usable (tokens made by another macro), tokens are separated by one space, except around
//! `::` and inside multi-character punctuation (`->`).

use proc_macro2::{Delimiter, LineColumn, Spacing, Span, TokenStream, TokenTree};

/// One token's place in the text.
struct Placed {
    line: usize,
    start: usize,
    end: usize,
    span: Span,
}

/// Source text rebuilt from tokens, and where each token went.
pub(crate) struct SourceText {
    /// The text handed to the compiler.
    pub(crate) text: String,
    /// Tokens in text order.
    tokens: Vec<Placed>,
    /// The 1-based line and 0-based column (in chars) where the next character goes.
    line: usize,
    column: usize,
    /// The previous token was a punct joined to the next (`-` of `->`).
    joint: bool,
}

impl SourceText {
    /// Writes out every token of `input`.
    pub(crate) fn from_tokens(input: TokenStream) -> Self {
        let mut out = SourceText {
            text: String::new(),
            tokens: Vec::new(),
            line: 1,
            column: 0,
            joint: false,
        };
        out.stream(input);
        out
    }

    /// The spans of the first and last tokens overlapping `start..end` in the text, for a
    /// diagnostic there; `None` past the last token (the end of the input).
    pub(crate) fn spans(&self, start: usize, end: usize) -> Option<(Span, Span)> {
        // The first token ending after `start`: the one under it, or the next one when
        // `start` falls between tokens.
        let first = self.tokens.partition_point(|t| t.end <= start);
        let first_token = self.tokens.get(first)?;
        let last = self
            .tokens
            .partition_point(|t| t.start < end.max(start + 1));
        let last_token = self.tokens.get(last.saturating_sub(1).max(first))?;
        Some((first_token.span, last_token.span))
    }

    /// The span of the token under (or first after) a byte offset of the text.
    pub(crate) fn span_at(&self, offset: usize) -> Option<Span> {
        self.spans(offset, offset).map(|(first, _)| first)
    }

    /// The span of the last token on a 1-based line of the text for which `pick` holds.
    pub(crate) fn last_on_line(&self, line: usize, pick: impl Fn(&str) -> bool) -> Option<Span> {
        self.tokens
            .iter()
            .filter(|t| t.line == line && pick(&self.text[t.start..t.end]))
            .last()
            .map(|t| t.span)
    }

    fn stream(&mut self, input: TokenStream) {
        for tree in input {
            self.joint = match tree {
                TokenTree::Group(g) => {
                    let (open, close) = match g.delimiter() {
                        Delimiter::Parenthesis => ("(", ")"),
                        Delimiter::Brace => ("{", "}"),
                        Delimiter::Bracket => ("[", "]"),
                        Delimiter::None => ("", ""),
                    };
                    self.token(open, g.span_open(), false);
                    self.joint = false;
                    self.stream(g.stream());
                    self.token(close, g.span_close(), false);
                    false
                }
                TokenTree::Ident(i) => {
                    self.token(&i.to_string(), i.span(), false);
                    false
                }
                TokenTree::Literal(l) => {
                    self.token(&l.to_string(), l.span(), false);
                    false
                }
                TokenTree::Punct(p) => {
                    let mut buf = [0; 4];
                    let joint = p.spacing() == Spacing::Joint;
                    // The first `:` of `::` glues to the name before it.
                    let glue = p.as_char() == ':' && joint;
                    self.token(p.as_char().encode_utf8(&mut buf), p.span(), glue);
                    joint
                }
            };
        }
    }

    /// Appends one token at its position (or after a separator) and records it.
    fn token(&mut self, text: &str, span: Span, glue_before: bool) {
        if text.is_empty() {
            return;
        }
        self.move_to(span.start(), glue_before);
        let (line, start) = (self.line, self.text.len());
        self.write(text);
        self.tokens.push(Placed {
            line,
            start,
            end: self.text.len(),
            span,
        });
    }

    /// Moves to where a token stood in the user's file, if that is ahead of the text
    /// written so far; otherwise separates it from the previous token when needed.
    fn move_to(&mut self, at: LineColumn, glue_before: bool) {
        if at.line > self.line {
            let newlines = "\n".repeat(at.line - self.line);
            self.write(&newlines);
            self.write(&" ".repeat(at.column));
        } else if at.line == self.line && at.line > 0 && at.column >= self.column {
            self.write(&" ".repeat(at.column - self.column));
        } else if !(self.text.is_empty() || self.joint || glue_before || self.text.ends_with("::"))
        {
            self.write(" ");
        }
    }

    fn write(&mut self, s: &str) {
        self.text.push_str(s);
        match s.rfind('\n') {
            Some(nl) => {
                self.line += s.matches('\n').count();
                self.column = s[nl + 1..].chars().count();
            }
            None => self.column += s.chars().count(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    fn text_of(tokens: TokenStream) -> String {
        SourceText::from_tokens(tokens).text
    }

    #[test]
    fn keeps_the_layout_of_the_input() {
        let src = "use crate::ops::{Split, Count as C};\n\ntopology t {\n    \
                   config { message_timeout = 30s, name = \"a b\" }\n    \
                   s.words -> c : fields(word) // comment\n}";
        let tokens: TokenStream = src.parse().expect("valid tokens");
        let expected = src.replace(" // comment", "");
        assert_eq!(text_of(tokens), expected);
    }

    #[test]
    fn separates_tokens_without_positions() {
        let text =
            text_of(quote!(spout s = crate::ops::Split() -> W parallelism 2 s -> b : fields(x)));
        assert_eq!(
            text,
            "spout s = crate::ops::Split ( ) -> W parallelism 2 s -> b : fields ( x )"
        );
    }

    #[test]
    fn maps_offsets_to_tokens() {
        let tokens: TokenStream = "a  ->  bee".parse().expect("valid tokens");
        let source = SourceText::from_tokens(tokens);
        let at = |offset| {
            source
                .spans(offset, offset + 1)
                .map(|(s, _)| s.start().column)
        };
        assert_eq!(at(0), Some(0));
        assert_eq!(at(1), Some(3), "between tokens: the next one");
        assert_eq!(at(8), Some(7), "inside a token");
        assert_eq!(at(10), None, "past the end");
        let (first, last) = source.spans(0, 10).expect("tokens");
        assert_eq!((first.start().column, last.start().column), (0, 7));
    }
}
