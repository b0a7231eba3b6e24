//! Tuples: the typed records that flow on streams.

use crate::codec::Codec;

/// A tuple schema: a Rust struct generated from a `tuple` declaration in a `.topo` file,
/// or written by hand with `#[derive(gale::Tuple)]`.
///
/// It knows its name and field names (checked against `fields(...)` groupings), clones
/// (for `all` groupings and streams with several consumers), and encodes itself with the
/// binary [`Codec`] to cross process boundaries.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a Gale tuple",
    label = "used as a tuple schema",
    note = "declare it with `tuple` in the `.topo` file, or add `#[derive(gale::Tuple)]` (with `Debug` and `Clone`) to the Rust type"
)]
pub trait Tuple: Codec + Clone + Send + std::fmt::Debug + 'static {
    /// The schema's name.
    const NAME: &'static str;
    /// The field names, in declaration order.
    const FIELDS: &'static [&'static str];
}

/// True when `fields` contains `name` (usable in constants: generated code asserts at
/// compile time that a `fields(x)` grouping names a field of an imported tuple type).
pub const fn has_field(fields: &[&str], name: &str) -> bool {
    let mut i = 0;
    while i < fields.len() {
        if str_eq(fields[i], name) {
            return true;
        }
        i += 1;
    }
    false
}

const fn str_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}
