//! Any bytes as a file name and a source: the compiler gives Rust code or diagnostics,
//! never a panic, and the code it gives is valid Rust syntax.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    // The first line is the file name, the rest the source.
    let (name, source) = text.split_once('\n').unwrap_or(("fuzz.topo", &text));
    match gale_compiler::compile_str(name, source) {
        Ok(code) => {
            let body = code.split_once('\n').map_or("", |(_, rest)| rest);
            assert!(syn::parse_file(body).is_ok(), "generated code is not Rust");
        }
        Err(diags) => {
            assert!(!diags.is_empty());
            let _ = diags.render(name, source);
        }
    }
});
