//! The same word count fused (`none` edges) and unfused (`shuffle`) gives the same counts,
//! equal to a plain loop; and the plan really fuses the `none` edges.

use gale_tests::wordcount_ops::{REPEAT, RESULTS, expected};
use gale_tests::{fused, unfused};

#[test]
fn fused_and_unfused_agree_with_a_plain_loop() {
    gale::run_local(fused::topology(), Default::default()).expect("fused runs");
    gale::run_local(unfused::topology(), Default::default()).expect("unfused runs");
    let results = RESULTS.lock().unwrap();
    let truth = expected(REPEAT);
    assert_eq!(results.get("fused"), Some(&truth));
    assert_eq!(results.get("unfused"), Some(&truth));
}

#[test]
fn none_edges_are_fused_into_chains() {
    let chains: Vec<Vec<&str>> = fused::DESC
        .chains
        .iter()
        .map(|c| {
            c.components
                .iter()
                .map(|&i| fused::DESC.components[i].name)
                .collect()
        })
        .collect();
    assert_eq!(
        chains,
        vec![vec!["lines", "split"], vec!["count", "collect"]]
    );
    let fused_edges: Vec<bool> = fused::DESC.edges.iter().map(|e| e.fused).collect();
    assert_eq!(fused_edges, vec![true, false, true]);
    assert_eq!(unfused::DESC.chains.len(), 4);
    assert!(unfused::DESC.edges.iter().all(|e| !e.fused));
}
