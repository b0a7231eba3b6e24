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

    /// Appends it as one line of text, without the newline: its fields in order, separated
    /// by tabs, each as [`TextField`] writes it (what the file sink writes). Generated for
    /// `.topo` tuples and `#[derive(gale::Tuple)]`; the default is its `Debug` form.
    fn write_text(&self, out: &mut String) {
        use std::fmt::Write as _;
        let _ = write!(out, "{self:?}");
    }
}

/// A field of any type as text: its [`TextField`] form if it has one, else its `Debug`
/// form (generated `write_text` calls `(&&TextOf(&field)).write_field(out)`, which picks
/// the first that applies).
pub struct TextOf<'a, T>(pub &'a T);

/// The [`TextField`] form of a field (preferred).
pub trait ViaText {
    /// Appends the field.
    fn write_field(&self, out: &mut String);
}

impl<T: TextField> ViaText for &TextOf<'_, T> {
    fn write_field(&self, out: &mut String) {
        self.0.write_text(out);
    }
}

/// The `Debug` form of a field (for a type without a [`TextField`] form).
pub trait ViaDebug {
    /// Appends the field.
    fn write_field(&self, out: &mut String);
}

impl<T: std::fmt::Debug> ViaDebug for TextOf<'_, T> {
    fn write_field(&self, out: &mut String) {
        use std::fmt::Write as _;
        let _ = write!(out, "{:?}", self.0);
    }
}

/// A field as text in a line of tab-separated fields: numbers and booleans as Rust prints
/// them, strings with `\\`, tab, newline and carriage return escaped (`\\`, `\t`, `\n`,
/// `\r`), `None` as nothing, a list as its items separated by commas.
pub trait TextField {
    /// Appends the field.
    fn write_text(&self, out: &mut String);
}

macro_rules! text_as_display {
    ($($t:ty)*) => {$(
        impl TextField for $t {
            fn write_text(&self, out: &mut String) {
                use std::fmt::Write as _;
                let _ = write!(out, "{self}");
            }
        }
    )*};
}
text_as_display!(u8 u16 u32 u64 u128 usize i8 i16 i32 i64 i128 isize f32 f64 bool char);

/// The `.topo` field type `Str`: a string of up to 24 bytes kept inline (no allocation to
/// make, clone, send to another thread or drop it), longer ones on the heap. Use it for
/// keys and short text; it derefs to `str`, and `Str::from("...")` / `.into()` /
/// `Str::from(string)` make one. It is [`compact_str`]'s `CompactString`.
pub use compact_str::CompactString as Str;

impl TextField for Str {
    fn write_text(&self, out: &mut String) {
        self.as_str().write_text(out);
    }
}

impl TextField for String {
    fn write_text(&self, out: &mut String) {
        self.as_str().write_text(out);
    }
}

impl TextField for &str {
    fn write_text(&self, out: &mut String) {
        for c in self.chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '\t' => out.push_str("\\t"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                c => out.push(c),
            }
        }
    }
}

impl<T: TextField> TextField for Option<T> {
    fn write_text(&self, out: &mut String) {
        if let Some(v) = self {
            v.write_text(out);
        }
    }
}

impl<T: TextField> TextField for Vec<T> {
    fn write_text(&self, out: &mut String) {
        for (i, v) in self.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            v.write_text(out);
        }
    }
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
