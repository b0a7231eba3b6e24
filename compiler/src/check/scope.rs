//! The type namespace of a file: declared tuples, declared stream sets and names imported by
//! `use`, with duplicate declarations reported (`E0103`) and Rust keywords refused as names
//! (`E0108`). A declaration wins over an import of the same name.

use crate::ast::{FieldDecl, File, Ident, StreamSetDecl, TupleDecl};
use crate::diagnostic::{Diagnostic, Diagnostics};
use std::collections::HashMap;

/// What a type name refers to.
#[derive(Clone, Copy)]
pub(crate) enum TypeDef<'a> {
    /// `tuple Name { ... }`: fields known.
    Tuple(&'a TupleDecl),
    /// `streams Name { ... }`: only valid as a component's output.
    Set(&'a StreamSetDecl),
    /// A name brought in by `use` (or any unknown name when a glob import exists):
    /// a Rust type deriving `gale::Tuple`, checked by rustc.
    External,
}

/// Every type name visible in the file.
pub(crate) struct Scope<'a> {
    types: HashMap<&'a str, TypeDef<'a>>,
    /// Some `use` ends in `*`: unknown names may come from it.
    glob: bool,
}

impl<'a> Scope<'a> {
    /// Collects the names, reporting each one defined twice.
    pub(crate) fn build(file: &'a File, diags: &mut Diagnostics) -> Self {
        let mut types = HashMap::new();
        let mut first: HashMap<&'a str, (&'a Ident, &'static str)> = HashMap::new();
        let mut define = |name: &'a Ident, what: &'static str, def, diags: &mut Diagnostics| {
            if let Some((prev, prev_what)) = first.get(name.name.as_str()) {
                diags.push(
                    Diagnostic::error(
                        "E0103",
                        format!("the name `{}` is defined more than once", name.name),
                        name.span,
                    )
                    .with_label(format!("defined again here, as {what}"))
                    .with_note(prev.span, format!("first defined here, as {prev_what}")),
                );
                return;
            }
            first.insert(&name.name, (name, what));
            types.insert(name.name.as_str(), def);
        };
        for t in &file.tuples {
            rust_keyword(&t.name, "tuple", diags);
            builtin_type(&t.name, "tuple", diags);
            define(&t.name, "a tuple", TypeDef::Tuple(t), diags);
        }
        for s in &file.stream_sets {
            rust_keyword(&s.name, "stream set", diags);
            builtin_type(&s.name, "stream set", diags);
            define(&s.name, "a stream set", TypeDef::Set(s), diags);
        }
        // Imports come last and never shadow a declaration: `use ops::CountWords as Count`
        // beside `tuple Count` names an operator and a schema, which rustc sorts out.
        for name in file.uses.iter().flat_map(|u| &u.imported) {
            builtin_type(name, "import", diags);
            types.entry(name.name.as_str()).or_insert(TypeDef::External);
        }
        let glob = file.uses.iter().any(|u| u.tree.contains('*'));
        Scope { types, glob }
    }

    /// What `name` refers to; `None` when it is neither declared nor imported.
    pub(crate) fn resolve(&self, name: &str) -> Option<TypeDef<'a>> {
        match self.types.get(name) {
            Some(def) => Some(*def),
            None if self.glob => Some(TypeDef::External),
            None => None,
        }
    }

    /// The fields of a declared tuple; `None` for external schemas and unknown names.
    pub(crate) fn fields(&self, name: &str) -> Option<&'a [FieldDecl]> {
        match self.types.get(name) {
            Some(TypeDef::Tuple(t)) => Some(&t.fields),
            _ => None,
        }
    }

    /// Every name that can stand for a tuple schema, for "did you mean" hints.
    pub(crate) fn schema_names(&self) -> impl Iterator<Item = &'a str> + '_ {
        self.types
            .iter()
            .filter(|(_, d)| !matches!(d, TypeDef::Set(_)))
            .map(|(n, _)| *n)
    }

    /// Reports `name` as unknown (`E0201`), with a hint when a similar name exists.
    pub(crate) fn unknown(&self, name: &Ident, diags: &mut Diagnostics) {
        let mut d = Diagnostic::error(
            "E0201",
            format!("cannot find tuple `{}`", name.name),
            name.span,
        )
        .with_label("not declared or imported");
        if let Some(ty) = builtin_spelling(&name.name) {
            diags.push(
                d.with_label(format!("did you mean `{ty}`?"))
                    .with_help(format!(
                        "`{}` is not a type in a `.topo` file; the type is written `{ty}`",
                        name.name
                    )),
            );
            return;
        }
        d = match super::suggest::similar(&name.name, self.schema_names()) {
            Some(close) => d.with_help(format!("a tuple with a similar name exists: `{close}`")),
            None => d.with_help(format!(
                "declare it with `tuple {} {{ ... }}` or import a Rust type with `use`",
                name.name
            )),
        };
        diags.push(d);
    }
}

/// The field type a name from another language (or a case slip) means: `string` is
/// `String`, `int` is `i64`, `double` is `f64`...
fn builtin_spelling(name: &str) -> Option<&'static str> {
    Some(match name {
        "string" | "str" | "text" | "varchar" => "String",
        "int" | "Int" | "long" | "Long" | "integer" | "Integer" | "I64" => "i64",
        "short" | "Short" => "i16",
        "byte" | "Byte" => "u8",
        "float" | "Float" | "F32" => "f32",
        "double" | "Double" | "F64" => "f64",
        "boolean" | "Boolean" | "Bool" => "bool",
        "U64" | "usize" | "uint" => "u64",
        "U32" => "u32",
        "I32" | "isize" => "i32",
        "Bytes" | "binary" | "blob" => "bytes",
        _ => return None,
    })
}

/// Rust's keywords: names that would not compile as generated struct, field or module names.
const RUST_KEYWORDS: &[&str] = &[
    "Self", "abstract", "as", "async", "await", "become", "box", "break", "const", "continue",
    "crate", "do", "dyn", "else", "enum", "extern", "false", "final", "fn", "for", "gen", "if",
    "impl", "in", "let", "loop", "macro", "match", "mod", "move", "mut", "override", "priv", "pub",
    "ref", "return", "self", "static", "struct", "super", "trait", "true", "try", "type", "typeof",
    "unsafe", "unsized", "use", "virtual", "where", "while", "yield",
];

/// The field types the language has built in: a schema of one of these names could never
/// be used as a field's type (the built-in one wins).
const BUILTIN_TYPES: &[&str] = &[
    "String", "Str", "bytes", "Option", "Vec", "u8", "u16", "u32", "u64", "i8", "i16", "i32",
    "i64", "f32", "f64", "bool",
];

/// Reports `E0109` when a tuple, stream set or import (`what`) takes the name of a built-in field
/// type: `f: Str` would mean the built-in `Str`, not it.
fn builtin_type(name: &Ident, what: &str, diags: &mut Diagnostics) {
    if BUILTIN_TYPES.contains(&name.name.as_str()) {
        diags.push(
            Diagnostic::error(
                "E0109",
                format!(
                    "`{}` is a built-in field type and cannot name {} {what}",
                    name.name,
                    if what == "import" { "an" } else { "a" }
                ),
                name.span,
            )
            .with_label("built-in field type")
            .with_help(if what == "import" {
                format!(
                    "import it under another name: `use path::{0} as My{0}`",
                    name.name
                )
            } else {
                format!("choose another name, such as `My{}`", name.name)
            }),
        );
    }
}

/// Reports `E0108` when `name` is a Rust keyword (it becomes a Rust identifier).
pub(crate) fn rust_keyword(name: &Ident, what: &str, diags: &mut Diagnostics) {
    if RUST_KEYWORDS.contains(&name.name.as_str()) {
        diags.push(
            Diagnostic::error(
                "E0108",
                format!("`{}` is a Rust keyword and cannot name a {what}", name.name),
                name.span,
            )
            .with_label("Rust keyword")
            .with_help("choose another name"),
        );
    }
}
