//! Built-in `filter`, `map` and `flat_map` fused into one chain, and a stream set routing
//! two streams, against a plain loop.

use gale_tests::chain;
use gale_tests::chain_ops::SUMS;

#[test]
fn builtins_and_stream_sets_match_a_plain_loop() {
    let summary = gale::run_local(chain::topology(), Default::default()).expect("runs");
    let digits: Vec<u64> = (0..10_000u64)
        .filter(|n| *n < 5000)
        .map(|n| n * 2)
        .flat_map(|n| {
            n.to_string()
                .bytes()
                .map(|b| (b - b'0') as u64)
                .collect::<Vec<_>>()
        })
        .collect();
    let even: Vec<u64> = digits.iter().copied().filter(|d| d % 2 == 0).collect();
    let odd: Vec<u64> = digits.iter().copied().filter(|d| d % 2 == 1).collect();
    let sums = SUMS.lock().unwrap();
    assert_eq!(sums["evens"], (even.len() as u64, even.iter().sum()));
    assert_eq!(sums["odds"], (odd.len() as u64, odd.iter().sum()));
    // count → small → double → digits → split is one fused chain.
    assert_eq!(chain::DESC.chains[0].components.len(), 5);
    assert_eq!(summary.component("small").map(|c| c.emitted), Some(5000));
    assert_eq!(
        summary.component("split").map(|c| c.emitted),
        Some(digits.len() as u64)
    );
}
