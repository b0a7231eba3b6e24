//! Compile-fail fixtures: each `tests/ui/*.rs` must fail with its golden `.stderr`
//! (regenerate with `TRYBUILD=overwrite cargo test -p gale-macros --test trybuild`, then
//! read every diff). `tests/pass/*.rs` must compile and run.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
    t.pass("tests/pass/*.rs");
}
