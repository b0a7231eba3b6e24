//! Nimbus's REST API (issue 14) against real nimbus, supervisor and worker processes: the
//! JSON of a running topology has its components, plan and growing counters; `kill` and
//! `rebalance` work with the secret and are refused, changing nothing, without it.

use gale_tests::cluster::{Cluster, http_request, serial};
use serde_json::Value;
use std::time::Duration;

fn acking_binary() -> std::path::PathBuf {
    env!("CARGO_BIN_EXE_cluster_acking").into()
}

fn json(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

fn executed(topology: &Value, component: &str) -> u64 {
    topology["components"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["name"] == component))
        .and_then(|c| c["executed"].as_u64())
        .unwrap_or(0)
}

#[test]
fn the_rest_api_shows_a_running_topology_and_acts_only_with_the_secret() {
    let _one = serial();
    let c = Cluster::start(
        "rest",
        2,
        2,
        &[("GALE_TEST_IDS", "1000000"), ("GALE_TEST_RATE", "500")],
    );
    let secret = c.secret.clone();
    let get = |path: &str| {
        let (code, body) = http_request(&c.http, "GET", path, Some(&secret), "");
        assert_eq!(code, 200, "GET {path}: {body}");
        json(&body)
    };
    let id = c.submit(&acking_binary(), &[]);

    let cluster = get("/api/v1/cluster");
    assert_eq!(
        cluster["supervisors"].as_array().map(Vec::len),
        Some(2),
        "{cluster}"
    );
    assert_eq!(cluster["slots_total"], 4, "{cluster}");

    let list = get("/api/v1/topologies");
    assert!(
        list.as_array()
            .is_some_and(|ts| ts.iter().any(|t| t["id"] == id.as_str())),
        "{list}"
    );

    // Its plan and components, and counters that grow.
    let path = format!("/api/v1/topologies/{id}");
    c.wait_for("the sink executes", Duration::from_secs(60), |_| {
        executed(&get(&path), "sink") > 0
    });
    let first = get(&path);
    let chains = first["plan"]["chains"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let components: Vec<&str> = chains
        .iter()
        .flat_map(|c| c["components"].as_array().into_iter().flatten())
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(components, ["ids", "relay", "sink"], "{first}");
    assert_eq!(first["plan"]["workers"], 2, "{first}");
    assert_eq!(
        first["workers"].as_array().map(Vec::len),
        Some(2),
        "{first}"
    );
    let before = executed(&first, "sink");
    c.wait_for("the counters grow", Duration::from_secs(30), |_| {
        executed(&get(&path), "sink") > before
    });

    // Reads and actions need the secret: 401 without, 403 with a wrong one.
    let (code, body) = http_request(&c.http, "GET", &path, None, "");
    assert_eq!(code, 401, "{body}");
    let rebalance = format!("/api/v1/topologies/{id}/rebalance");
    let kill = format!("/api/v1/topologies/{id}/kill");
    let change = r#"{"parallelism": {"relay": 1}}"#;
    let version = get(&path)["version"].as_u64();
    let (code, body) = http_request(&c.http, "POST", &rebalance, None, change);
    assert_eq!(code, 401, "{body}");
    let (code, body) = http_request(&c.http, "POST", &rebalance, Some("wrong"), change);
    assert_eq!(code, 403, "{body}");
    let (code, body) = http_request(&c.http, "POST", &kill, Some("wrong"), "");
    assert_eq!(code, 403, "{body}");
    assert_eq!(
        get(&path)["version"].as_u64(),
        version,
        "a refused call changed something"
    );
    assert_eq!(get(&path)["status"], "running");

    // With it: rebalance moves the version, a bad body is a 400, kill removes it.
    let (code, body) = http_request(&c.http, "POST", &rebalance, Some(&secret), change);
    assert_eq!(code, 200, "{body}");
    assert!(json(&body)["version"].as_u64() > version, "{body}");
    let relay = get(&path)["plan"]["chains"][1]["executors"].clone();
    assert_eq!(relay, 1, "{}", get(&path));
    let (code, body) = http_request(&c.http, "POST", &rebalance, Some(&secret), "{nope");
    assert_eq!(code, 400, "{body}");
    let (code, body) = http_request(&c.http, "POST", &kill, Some(&secret), "");
    assert_eq!(code, 200, "{body}");
    assert_eq!(json(&body)["killed"][0], id.as_str(), "{body}");
    let (code, _) = http_request(&c.http, "GET", &path, Some(&secret), "");
    assert_eq!(code, 404);
}
